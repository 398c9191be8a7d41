"""An agent's own git worktree: created from its `dir` on the first start, on its own branch, kept
across restarts; removed only by `agentsup down NAME --remove-worktree`, never with uncommitted
changes unless forced."""

from __future__ import annotations

from pathlib import Path

from agentsup.buildloop.git import Git, GitError
from agentsup.config.load import Agent
from agentsup.errors import AgentsupError


def ensure(agent: Agent) -> bool:
    """Make sure the agent's worktree exists. True when this call created it."""
    spec = agent.worktree
    if spec is None or spec.path is None:
        return False
    path = Path(spec.path)
    if (path / ".git").exists():
        return False  # kept: a restart continues in the same tree, on the same branch
    git = Git(agent.dir, timeout=60)
    try:
        if git.run("rev-parse", "--is-inside-work-tree", check=False).stdout.strip() != "true":
            raise AgentsupError(f"agent {agent.name}: worktree is set but {agent.dir} is not a git repository")
        path.parent.mkdir(parents=True, exist_ok=True)
        if git.rev_parse(f"refs/heads/{spec.branch}"):
            git.run("worktree", "add", str(path), spec.branch)
        else:
            git.run("worktree", "add", "-b", spec.branch, str(path), *([spec.base] if spec.base else []))
    except GitError as exc:
        raise AgentsupError(f"agent {agent.name}: could not create its worktree: {exc}") from None
    return True


def dirty(path: Path) -> list[str]:
    """What `git status` shows uncommitted in the worktree (empty when clean)."""
    try:
        return Git(path, timeout=60).run("status", "--porcelain").stdout.splitlines()
    except GitError as exc:
        raise AgentsupError(f"{path}: cannot tell whether the worktree is clean: {exc}") from None


def remove(agent: Agent, *, force: bool = False) -> Path:
    """Remove the agent's worktree (its branch stays). Refuses when it holds uncommitted changes."""
    spec = agent.worktree
    if spec is None or spec.path is None:
        raise AgentsupError(f"agent {agent.name} has no worktree")
    path = Path(spec.path)
    if not path.exists():
        raise AgentsupError(f"agent {agent.name}: its worktree {path} does not exist")
    changes = dirty(path)
    if changes and not force:
        shown = "; ".join(changes[:3]) + (" ..." if len(changes) > 3 else "")
        raise AgentsupError(f"agent {agent.name}: its worktree {path} has uncommitted changes ({shown}); "
                            "commit them, or remove with --force")
    try:
        Git(agent.dir, timeout=60).run("worktree", "remove", *(["--force"] if force else []), str(path))
    except GitError as exc:
        raise AgentsupError(f"agent {agent.name}: could not remove its worktree: {exc}") from None
    return path
