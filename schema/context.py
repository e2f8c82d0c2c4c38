"""What every resolver gets: the viewer, the settings and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from starlette.requests import Request
from starlette.responses import Response

from schema.loaders import Loaders
from server.auth import Viewer
from server.settings import Settings


@dataclass
class Context:
    request: Request
    response: Response
    viewer: Viewer
    settings: Settings
    loaders: Loaders


Info = strawberry.Info[Context, None]
