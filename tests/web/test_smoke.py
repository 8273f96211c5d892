def test_portal_home_explains_the_confidentiality_promise(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert "confidential" in resp.get_data(as_text=True).lower()


def test_links_follow_the_mount_point_the_page_was_served_under(client):
    """Navigation links are built once per endpoint and mount point: an app served under a path prefix
    (a reverse proxy's SCRIPT_NAME) links under that prefix, and the same app at the root links at the root."""
    under = client.get("/", environ_overrides={"SCRIPT_NAME": "/advice"}).get_data(as_text=True)
    at_root = client.get("/").get_data(as_text=True)
    assert 'href="/advice/sign-in"' in under
    assert 'href="/sign-in"' in at_root and "/advice/" not in at_root
