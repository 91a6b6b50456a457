"""The main job end to end, small: evaluate + load-test a preset and write the report."""

from pathlib import Path

from workbench.config import PipelineConfig
from workbench.demo import run_demo


def test_demo_writes_a_report_with_quality_and_load(tmp_path: Path, default_config: PipelineConfig,
                                                     knowledge_base) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    index = run_demo(presets=("fast", "default"), questions=8, load_seconds=1.0, load_rate=10.0,
                     out_dir=tmp_path / "report", index_dir=default_config.index_dir, cache_dir=tmp_path / "exp",
                     echo=lines.append)
    html = index.read_text(encoding="utf-8")
    assert "<h2>Load test</h2>" in html and "data:image/png;base64," in html
    assert "fast" in html and "default" in html
    for name in ("report.md", "results.csv", "results.json", "manifest.json"):
        assert (index.parent / name).is_file()
    assert any(line.startswith("report:") for line in lines)
    assert any("throughput" in line for line in lines)
    again = run_demo(presets=("fast",), questions=8, load_seconds=1.0, load_rate=10.0, out_dir=tmp_path / "r2",
                     index_dir=default_config.index_dir, cache_dir=tmp_path / "exp", echo=lines.append)
    assert again.is_file() and any("experiment cache" in line for line in lines)
