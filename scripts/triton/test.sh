#!/usr/bin/env bash
# The Triton work against a real Triton server:
#   - test/plugins/triton-server/: install, start, reuse, stop, start failures;
#   - models/triton/test_sampling.py: the Python sampler vs the shared vectors;
#   - models/triton/test_eagle_head.py: canopy_eagle's request logic, no server;
#   - test/models/triton/: the canopy_lm wire contract and canopy_eagle over HTTP and gRPC
#     (the suite starts and stops its own server with `canopy triton`).
# Needs canopy built (`npm install` or `npm run build`), a Python 3.11 or 3.12
# with a shared libpython, and PyPI the first time. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

node bin/canopy.js triton install >/dev/null
venv="${CANOPY_TRITON_VENV:-.venv/triton}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r test/models/triton/requirements.txt
if [ -z "${CANOPY_TRITON_TEST_MODEL:-}" ]; then
  node bin/canopy.js prepare-model --tiny >/dev/null
fi
CANOPY_TRITON_TESTS=1 npx vitest run test/plugins/triton-server
"$venv/bin/python" -m pytest -q models/triton/test_sampling.py models/triton/test_eagle_head.py test/models/triton "$@"
