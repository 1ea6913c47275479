"""The Teach tab: your own classes from a few photos each (engine.TeachProject)."""
