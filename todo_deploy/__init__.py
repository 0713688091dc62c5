"""todo_deploy: the pipeline behind `tasks.py` (doctor, build, secrets, deploy, verify)."""

__version__ = "0.1.0"
