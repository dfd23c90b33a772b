"""The image's HEALTHCHECK: healthy while GET /api/health answers 200 ("ok"); 503 (degraded:
database down, saving behind, a PBX feed or the broker away) or no answer is unhealthy."""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("CALLCENTER_HEALTH_URL", "http://127.0.0.1:8080/api/health")

try:
    with urllib.request.urlopen(URL, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as exc:
    print(f"{URL}: {exc}", file=sys.stderr)
    sys.exit(1)
