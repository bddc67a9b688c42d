"""The Dash app of the recipe test (docs/recipes/dash.md).

Served under /dash/ (url_base_pathname), behind embedgate's /dash/ route.
Its callback, an XHR POST to /dash/_dash-update-component through the
proxy, reads the viewer from the request headers embedgate set, so the
browser test can check both the interaction and the identity.

Usage: python dash_app.py PORT
"""

import sys

import flask
from dash import Dash, Input, Output, dcc, html

app = Dash(__name__, url_base_pathname="/dash/", title="Recipe test: Dash")
server = app.server  # for gunicorn: gunicorn dash_app:server

app.layout = html.Div(
    [
        html.H1("Recipe test: Dash"),
        html.Label("Region", htmlFor="region"),
        dcc.Dropdown(
            id="region",
            options=["north", "south", "east", "west"],
            value="north",
            clearable=False,
        ),
        html.P(id="answer"),
    ]
)


@app.callback(Output("answer", "children"), Input("region", "value"))
def answer(region: str) -> str:
    viewer = flask.request.headers.get("X-Embed-User", "nobody")
    tenant = flask.request.headers.get("X-Embed-Attr-Tenant", "none")
    return f"Sales for {region}, shown to {viewer} (tenant {tenant})"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
