"""The generator agent: a deepagents Planner → Coder → Reviewer graph that writes a family."""
