"""Configuration as code, pure: the file's document (`document`), checking it with every
problem's path, and planning what applying it to a deployment would change."""
