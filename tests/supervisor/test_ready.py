"""A start that hangs before the program is ready: caught by start_timeout where the backend names
its ready screen (ready_re) or input box, and named by check and doctor where it names neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentsup.supervisor.reconcile.tick import HEAVY

from ..scripted import Fleet, agent

HANGS = '[backend.slow]\nbin = "slow-tui"\n{ready}\n'


def custom(root: Path, ready: str) -> Fleet:
    root.mkdir(parents=True, exist_ok=True)
    return Fleet(root, HANGS.format(ready=ready) + agent("a", backend="slow", watch="heal"))


def test_a_custom_backend_that_names_its_ready_screen_is_restarted_when_it_hangs_at_loading(tmp_path: Path) -> None:
    f = custom(tmp_path, 'ready_re = "^Ready>"')
    f.dog.tick(HEAVY)
    f.tmux.show("t-a", "Loading…")
    for step in range(13):  # start_timeout 60 s: a spinner that moves is not ready
        f.tmux.show("t-a", "Loading" + "." * (step % 3 + 1))
        f.advance(5)
    assert "restart" in f.events("a") and "not ready" in f.record("a")["detail"] + str(f.record("a")["last_reason"])
    started = len(f.tmux.started)
    f.tmux.show("t-a", "Ready> ")
    for _ in range(20):
        f.advance(5)
    assert len(f.tmux.started) == started and f.record("a")["state"] == "RUNNING", "once ready it is left alone"


@pytest.mark.tmux  # check and doctor ask tmux its version
def test_without_ready_re_the_hang_is_not_judged_and_check_and_doctor_say_so(tmp_path: Path) -> None:
    from agentsup.config.load import load_config
    from agentsup.supervisor.operator.doctor import run_checks
    from agentsup.supervisor.operator.operate import check

    f = custom(tmp_path, "")
    cfg = load_config(f.config)
    warning = next(w for w in check(cfg).warnings if "agent a:" in w and "ready" in w)
    assert "names neither input_re nor ready_re" in warning and "[backend.slow].ready_re" in warning
    doctor = [c for c in run_checks(cfg, f.config) if c.name == "start timeout"]
    assert doctor and doctor[0].level == "warn" and "agent a" in doctor[0].detail
    assert not [w for w in check(load_config(custom(tmp_path / "b", 'ready_re = "^Ready>"').config)).warnings
                if "ready_re" in w]
