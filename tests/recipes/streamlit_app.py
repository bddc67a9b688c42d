"""The Streamlit app of the recipe test (docs/recipes/streamlit.md).

It shows who the viewer is, as embedgate told it in the headers of the
WebSocket request that opened the session, and echoes a text input, so the
browser test can interact once and see the answer change.
"""

import streamlit as st

headers = st.context.headers
viewer = headers.get("X-Embed-User", "nobody")
tenant = headers.get("X-Embed-Attr-Tenant", "none")

st.title("Recipe test: Streamlit")
st.markdown(f"Viewer: **{viewer}** (tenant {tenant})")
name = st.text_input("Your name")
if name:
    st.markdown(f"Hello, **{name}**, from Streamlit for {viewer}!")
else:
    st.markdown("Nobody greeted yet.")
