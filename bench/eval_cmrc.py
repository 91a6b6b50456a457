"""CMRC 2018 dev EM/F1: the gold answers scored against themselves and against a shifted answer set, by the
library metric (workbench.evaluation.metrics.answer.cmrc) and by an independent straightforward
implementation of the official definitions written here, compared question by question.

    .venv/bin/python bench/eval_cmrc.py [--data ../shared/data/cmrc2018/cmrc2018_dev.json]

Prediction sets (one answer string per question id):
  gold-self     the question's first reference (must score 100 / 100)
  gold-second   the question's second reference (a reference too: 100 / 100)
  third-vs-first-two  the third reference scored against the first two only (annotator agreement;
                the first two are identical for 3,109 of 3,219 questions)
  shifted       the first reference of the *next* question (a wrong answer of the right kind)
  missing-half  gold-self with every other question unanswered (a missing answer counts as 0)
Writes bench/results/cmrc.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import workbench  # noqa: F401
from workbench.datasets import load_squad
from workbench.evaluation.metrics.answer import cmrc_em, cmrc_f1

ROOT = Path(__file__).resolve().parent.parent


# ---- an independent, literal implementation of the official definitions (README "Official metric") ----
SP_CHAR = ['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=', '，', '。', '：', '？', '！', '“', '”', '；', '’',
           '《', '》', '……', '·', '、', '「', '」', '（', '）', '－', '～', '『', '』']
CJK = re.compile(r"[\u4e00-\u9fa5]")


def word_tokenize(text: str) -> list[str]:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize(text)


def segment(text: str, rm_punc: bool) -> list[str]:
    text = text.lower().strip()
    out: list[str] = []
    temp = ""
    for char in text:
        if rm_punc and char in SP_CHAR:
            continue
        if CJK.search(char) or char in SP_CHAR:
            if temp != "":
                out.extend(word_tokenize(temp))
                temp = ""
            out.append(char)
        else:
            temp += char
    if temp != "":
        out.extend(word_tokenize(temp))
    return out


def remove_punct(text: str) -> str:
    return "".join(c for c in text.lower().strip() if c not in SP_CHAR)


def lcs_len(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            if a[i] == b[j]:
                table[i + 1][j + 1] = table[i][j] + 1
                best = max(best, table[i + 1][j + 1])
    return best


def ref_f1(answers: list[str], prediction: str) -> float:
    scores = []
    for ans in answers:
        a, p = segment(ans, True), segment(prediction, True)
        n = lcs_len(a, p)
        if n == 0:
            scores.append(0.0)
            continue
        prec, rec = n / len(p), n / len(a)
        scores.append(2 * prec * rec / (prec + rec))
    return max(scores)


def ref_em(answers: list[str], prediction: str) -> float:
    return 1.0 if any(remove_punct(a) == remove_punct(prediction) for a in answers) else 0.0
# ---------------------------------------------------------------------------------------------------------


def score(questions, predictions: dict[str, str], refs_of) -> dict:
    lib_em = lib_f1 = ind_em = ind_f1 = 0.0
    max_diff, disagreements = 0.0, 0
    for q in questions:
        refs = refs_of(q)
        if q.id not in predictions:
            continue  # counts as 0 in the denominator, as the official script
        pred = predictions[q.id]
        e1, f1 = cmrc_em(pred, refs), cmrc_f1(pred, refs)
        e2, f2 = ref_em(refs, pred), ref_f1(refs, pred)
        lib_em, lib_f1, ind_em, ind_f1 = lib_em + e1, lib_f1 + f1, ind_em + e2, ind_f1 + f2
        diff = max(abs(e1 - e2), abs(f1 - f2))
        max_diff = max(max_diff, diff)
        disagreements += diff > 1e-12
    n = len(questions)
    em, f1 = 100 * lib_em / n, 100 * lib_f1 / n
    return {"questions": n, "answered": sum(q.id in predictions for q in questions),
            "em": em, "f1": f1, "average": (em + f1) / 2,
            "independent_em": 100 * ind_em / n, "independent_f1": 100 * ind_f1 / n,
            "max_abs_diff_per_question": max_diff, "questions_disagreeing": disagreements}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cmrc.json"))
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        print(f"CMRC 2018 dev not found at {args.data}; nothing to do")
        return 1
    ds = load_squad(args.data)
    qs = ds.questions
    every = lambda q: list(q.answers)  # noqa: E731
    sets = {
        "gold-self": ({q.id: q.answers[0] for q in qs}, every),
        "gold-second": ({q.id: q.answers[1] for q in qs if len(q.answers) > 1}, every),
        "third-vs-first-two": ({q.id: q.answers[2] for q in qs if len(q.answers) > 2}, lambda q: list(q.answers[:2])),
        "shifted": ({q.id: qs[(i + 1) % len(qs)].answers[0] for i, q in enumerate(qs)}, every),
        "missing-half": ({q.id: q.answers[0] for i, q in enumerate(qs) if i % 2 == 0}, every),
    }
    results = {}
    for name, (preds, refs_of) in sets.items():
        results[name] = score(qs, preds, refs_of)
        print(f"{name}: done", file=sys.stderr)
    cols = ("answered", "em", "f1", "average", "independent_em", "independent_f1", "questions_disagreeing")
    print(f"\nCMRC 2018 dev: {len(qs)} questions, {sum(len(q.answers) for q in qs)} references\n")
    print("| prediction set | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"dataset": {"name": "cmrc2018_dev", "questions": len(qs), "hash": ds.hash},
                                         "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
