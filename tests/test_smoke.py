def test_portal_home_explains_the_confidentiality_promise(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert "confidential" in resp.get_data(as_text=True).lower()
