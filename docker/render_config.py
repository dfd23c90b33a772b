"""Copy the configuration template to the file the service reads, every ${NAME} replaced by the
environment variable NAME: the secrets stay in docker/.env, never in the mounted config.

A placeholder whose variable is unset or empty stops the container (exit 2) naming it, before
the service starts on a half-filled configuration. Values are inserted as they are: passwords
that go into URLs must be URL-safe (docker/env.example makes hex ones).
"""

import os
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(text: str, env: dict[str, str]) -> str:
    missing = sorted({name for name in PLACEHOLDER.findall(text) if not env.get(name)})
    if missing:
        raise KeyError(", ".join(missing))
    return PLACEHOLDER.sub(lambda m: env[m.group(1)], text)


def main(template: str, target: str) -> int:
    try:
        text = render(Path(template).read_text(encoding="utf-8"), dict(os.environ))
    except FileNotFoundError:
        print(f"config error: no configuration at {template}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"config error: {template} needs {exc.args[0]} in the environment", file=sys.stderr)
        return 2
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
