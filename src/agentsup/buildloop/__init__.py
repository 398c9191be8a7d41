"""The build loop: phases, builder/adversary handoff, tasks, prompts, worktrees."""
