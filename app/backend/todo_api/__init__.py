"""Todo API: the reference backend that the deployment suite builds, deploys and verifies."""

__version__ = "1.0.0"
