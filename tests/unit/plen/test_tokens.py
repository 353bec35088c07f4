from plen import tokens

BID = "0" * 32


def test_token_verifies_for_its_block_and_access():
    t = tokens.sign("secret", BID, "r", 60, now=1000)
    assert tokens.verify("secret", t, BID, "r", now=1001)


def test_token_refused_for_other_block_access_secret_or_after_expiry():
    t = tokens.sign("secret", BID, "w", 60, now=1000)
    assert not tokens.verify("secret", t, "1" * 32, "w", now=1001)
    assert not tokens.verify("secret", t, BID, "r", now=1001)
    assert not tokens.verify("other", t, BID, "w", now=1001)
    assert not tokens.verify("secret", t, BID, "w", now=1061)


def test_token_refused_when_tampered_or_malformed():
    t = tokens.sign("secret", BID, "r", 60, now=1000)
    access, expires, mac = t.split(".")
    assert not tokens.verify("secret", f"{access}.{int(expires) + 999}.{mac}", BID, "r", now=1001)
    for bad in ["", "r", "r.x.y", "r.1.2.3"]:
        assert not tokens.verify("secret", bad, BID, "r", now=0)
