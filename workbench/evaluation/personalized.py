"""The dataset's personalized questions checked against the bundled bank tools (a label-set check).

Each personalized question names a tool, its arguments and the values the tool's output must hold;
the check runs every call on the seeded bank fixture and renders the tool's answer template, so a
changed plugin or fixture that would make the dataset's labels wrong is caught::

    problems = dataset_problems(load_dataset("meridian_bank"))   # data rules + tool rules; [] when valid
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workbench.datasets import BankDataset, validate_dataset
from workbench.errors import WorkbenchError
from workbench.tools.bank_fixture import build_bank_fixture
from workbench.tools.registry import ToolRegistry

__all__ = ["dataset_problems", "tool_answer_problems"]


def tool_answer_problems(ds: BankDataset) -> list[str]:
    """Per personalized question: the tool is a bundled plugin, its arguments validate, its output on the
    seeded fixture holds ``expected``, and its rendered answer contains every gold answer.

    :param ds: a project dataset.
    :returns: the problems as readable lines (empty when every question checks out).
    """
    if not ds.personalized:
        return []
    problems: list[str] = []
    registry = ToolRegistry.from_folder(check_interval_s=float("inf"))
    previous = os.environ.get("WB_BANK_DB")
    with tempfile.TemporaryDirectory(prefix="wb-validate-") as tmp:
        os.environ["WB_BANK_DB"] = str(build_bank_fixture(Path(tmp) / "bank.sqlite3"))
        try:
            for p in ds.personalized:
                where = f"personalized {p.id}"
                if p.tool not in registry.names():
                    problems.append(f"{where}: tool {p.tool!r} is not a bundled plugin")
                    continue
                spec = registry.get(p.tool)
                try:
                    args = spec.validate(p.arguments)
                    context = {"user": p.user, "tenant": p.tenant}
                    output = spec.fn(**args, **{k: context[k] for k in spec.context})
                except WorkbenchError as exc:
                    problems.append(f"{where}: the tool call fails on the fixture: {exc}")
                    continue
                for key, value in p.expected.items():
                    if output.get(key) != value:
                        problems.append(f"{where}: expected {key}={value!r}, the fixture gives {output.get(key)!r}")
                template = spec.answer.get(p.lang, "")
                rendered = template.format(**output) if template else ""
                for ans in p.answers:
                    if ans not in rendered:
                        problems.append(f"{where}: answer {ans!r} is not in the tool's rendered answer {rendered!r}")
        finally:
            if previous is None:
                os.environ.pop("WB_BANK_DB", None)
            else:
                os.environ["WB_BANK_DB"] = previous
    return problems


def dataset_problems(ds: BankDataset) -> list[str]:
    """Every rule of the dataset's ``AUTHORING.md`` marked [checked]: the data rules
    (:func:`~workbench.datasets.validate_dataset`) and the tool rules (:func:`tool_answer_problems`).

    :param ds: a project dataset.
    :returns: the problems as readable lines (empty when the dataset is valid).
    """
    return validate_dataset(ds) + tool_answer_problems(ds)
