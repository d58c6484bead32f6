"""How the worker process is started: where it listens, its token, its data folder.

These come from the command line, not from the settings tree: the adapter that
starts the worker decides them, and a client cannot change them.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Listen", "WorkerConfig", "default_data_dir", "read_token"]


@dataclass(frozen=True)
class Listen:
    """``127.0.0.1:8765``, ``[::1]:8765``, ``localhost:0`` (any free port) or ``unix:/path``."""

    host: str | None = None
    port: int | None = None
    path: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Listen":
        text = text.strip()
        if text.startswith("unix:"):
            path = text[5:]
            if not path:
                raise ValueError("unix: needs a socket path, e.g. unix:/run/pinozcam.sock")
            return cls(path=path)
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"expected HOST:PORT or unix:PATH, not {text!r}")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"the port in {text!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"the port in {text!r} is out of range")
        return cls(host=host, port=port)

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    @property
    def is_loopback(self) -> bool:
        """True for a unix socket, ``localhost`` or a loopback address."""
        if self.is_unix:
            return True
        assert self.host is not None
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve to anything

    def __str__(self) -> str:
        if self.is_unix:
            return f"unix:{self.path}"
        return f"[{self.host}]:{self.port}" if self.host and ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class WorkerConfig:
    """The command-line side of the worker. ``token`` never appears in a repr."""

    listen: Listen
    token: str = field(repr=False)
    data_dir: Path
    allow_remote: bool = False
    no_auth_loopback_http: bool = False

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("the token is empty")
        if not self.listen.is_loopback and not self.allow_remote:
            raise ValueError(f"refusing to listen on {self.listen}, which is not a loopback "
                             "address, without --allow-remote")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/pinozcam`` or ``~/.local/share/pinozcam``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pinozcam"


def read_token(path: str | Path) -> str:
    """The token in ``path`` (surrounding white space removed); ValueError if unreadable or empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the token file {path} is not text") from None
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token
