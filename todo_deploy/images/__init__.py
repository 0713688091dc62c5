"""`inv build`: content-digest tags, the filtered build context, builds in minikube's daemon.

One job per module:

- :mod:`.context` — the filtered build context, its content digest (= the tag) and its tar.
- :mod:`.dockerfile` — the base images a Dockerfile's ``FROM`` / global ``ARG`` lines name.
- :mod:`.state` — ``<state_dir>/images.json``: the build args used, for ``inv deploy``.
- :mod:`.builder` — the interface the two builders share, their log and failure.
- :mod:`.daemon` — builds in a Docker daemon through docker-py (classic builder).
- :mod:`.minikube` — ``minikube image build`` for the containerd / cri-o runtimes.
- :mod:`.target` — which builder the configured target gets.
- :mod:`.decide` — pure: what one image needs (skip, tag ``:latest``, build).
- :mod:`.prune` — after a build, old digest tags past ``build.keep`` go (never the release's).
- :mod:`.stage` — the stage: prepare, look up, decide, act, record, print.

Tags: ``todo-<component>:<digest12>`` and ``:latest``. A tag that already exists in the
target daemon is not rebuilt (``--force`` rebuilds). ``current_images`` recomputes the tags
for ``inv deploy``. docker-py has no BuildKit: the classic builder runs, so the Dockerfiles
avoid ``RUN --mount``.

The names other modules and the tests use are re-exported here (``images.prepare``, ...).
To replace the builder in a test, patch :func:`todo_deploy.images.target.open_builder`: the
stage and ``missing_images`` look it up there.
"""

from __future__ import annotations

from ..tools import parse_image_list  # the minikube client's parser
from .builder import (
    BUILD_TIMEOUT,
    COMPONENT_LABEL,
    LOG_TAIL_LINES,
    Builder,
    BuildLog,
    ImageInfo,
    TagInfo,
    build_failed,
)
from .context import (
    ALWAYS_EXCLUDED,
    COMPONENTS,
    DIGEST_SCHEME,
    DOCKERFILE_IN_CONTEXT,
    LATEST,
    SECRET_NAMES,
    TAG_LENGTH,
    BuildContext,
    ImageRef,
    content_digest,
    context_files,
    context_size,
    context_tar,
    effective_args,
    ignore_file_for,
    is_secret_file,
    parse_build_args,
    parse_ignore,
    prepare,
)
from .daemon import (
    STEP_RE,
    DockerBuilder,
    StepEvent,
    docker_client,
    docker_environment,
    parse_stream_event,
)
from .decide import Build, Decision, Found, Skip, Tag, decide
from .dockerfile import base_images
from .minikube import (
    NON_DOCKER_RUNTIMES,
    MinikubeImageBuilder,
    minikube_build_opts,
)
from .prune import Pruned, digest_tags, parse_release_refs, prune_old_tags, prune_plan
from .stage import BuiltImage, build_one, lookup, run_build, selected
from .state import STATE_FILE, current_images, load_state, save_state, state_path
from .target import missing_images, open_builder

__all__ = [
    "ALWAYS_EXCLUDED", "BUILD_TIMEOUT", "COMPONENTS", "COMPONENT_LABEL", "DIGEST_SCHEME",
    "DOCKERFILE_IN_CONTEXT", "LATEST", "LOG_TAIL_LINES", "NON_DOCKER_RUNTIMES", "SECRET_NAMES",
    "STATE_FILE", "STEP_RE", "TAG_LENGTH", "Build", "BuildContext", "BuildLog", "Builder",
    "BuiltImage", "Decision", "DockerBuilder", "Found", "ImageInfo", "ImageRef",
    "MinikubeImageBuilder", "Pruned", "Skip", "StepEvent", "Tag", "TagInfo", "base_images",
    "build_failed", "build_one", "content_digest", "context_files", "context_size",
    "context_tar", "current_images", "decide", "digest_tags", "docker_client",
    "docker_environment", "effective_args", "ignore_file_for", "is_secret_file",
    "load_state", "lookup", "minikube_build_opts", "missing_images", "open_builder",
    "parse_build_args", "parse_ignore", "parse_image_list", "parse_release_refs",
    "parse_stream_event", "prepare", "prune_old_tags", "prune_plan", "run_build", "save_state",
    "selected", "state_path"
]
