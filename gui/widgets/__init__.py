"""Widgets shared by two or more tabs: message bar, number and path fields, checkpoint and
data-source pickers. Below the tabs, above :mod:`gui.background`."""
