"""Service: the rationale page of one evaluation behind a signed card link (service.panel_links), mounted
when JWT auth is on and the panel itself is off:

    GET /panel/evaluations/{evaluation_id}?t=TOKEN    the page a card links to (403 without a valid token)
    /panel/static/                                    its CSS and JS (mounted by the app)
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cdss.render import html as H
from service.deps import EngineDep
from service.panel_links import verify
from service.routes import panel

router = APIRouter(prefix="/panel", tags=["Clinician panel"], include_in_schema=False)


@router.get("/evaluations/{evaluation_id}", response_class=HTMLResponse)
async def linked_evaluation(evaluation_id: str, request: Request, engine: EngineDep) -> HTMLResponse:
    if not verify(request.app.state.link_key, evaluation_id, request.query_params.get("t"), time.time()):
        return panel._page(request, "not_found.html", {"message": H.text(H.UI, "link_expired", panel._lang(request)),
                                                       "what": evaluation_id}, status=403)
    return await panel.evaluation_page(evaluation_id, request, engine)

