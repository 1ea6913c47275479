"""Teach: your own classes from a few photos each (a project folder, features of a frozen
ImageNet backbone, a small head trained on them)."""
