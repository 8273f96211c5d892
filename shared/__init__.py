"""Models and the rules that both the portal and the back office use.

Nothing in this package imports `portal` or `backoffice`: the rules live here so that both sides
enforce them the same way.
"""
