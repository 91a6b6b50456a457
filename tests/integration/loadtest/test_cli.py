from click.testing import CliRunner

from workbench.loadtest import LoadResult
from workbench.loadtest.cli import loadtest
from workbench.testing import UvicornServer


def test_cli_http_open_loop_saves_a_run(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    r = CliRunner().invoke(loadtest, ["fast", "--url", contract_server.url, "--profile", "morning-peak",
                                      "--duration", "2", "--rate", "30", "--out", str(out), "--no-progress",
                                      "--slo-e2e-ms", "500"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "throughput" in r.output and "goodput" in r.output
    res = LoadResult.load(out)
    assert res.meta["profile"]["name"] == "morning-peak" and res.meta["config"] == "fast"
    assert len(res) > 5 and (res.df.status == "ok").all()


def test_cli_in_process_closed_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(loadtest, ["fast", "--concurrency", "2", "--duration", "1", "--out", str(tmp_path / "r")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = LoadResult.load(tmp_path / "r")
    assert res.meta["runner"] == "closed-loop" and len(res) >= 1
    assert (res.df.status == "ok").all(), res.df.error.dropna().unique()[:3]
