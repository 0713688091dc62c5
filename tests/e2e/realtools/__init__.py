"""The real minikube and kind, and what they need on a machine that can pull nothing, built
here from Go modules and Debian packages, once per machine (``python3 -m tests.e2e.realtools``)."""
