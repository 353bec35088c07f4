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


def test_token_refused_in_any_spelling_but_the_one_sign_writes():
    # int() would take each of these expiries as the signed one, and the MAC would match:
    # a second spelling of a genuine token that no signer issued.
    t = tokens.sign("secret", BID, "r", 60, now=1000)
    access, expires, mac = t.split(".")
    spellings = [
        f"r.+{expires}.{mac}", f"r.0{expires}.{mac}", f"r. {expires}.{mac}",
        f"r.{expires} .{mac}", f"r.{expires[:2]}_{expires[2:]}.{mac}",
        f"r.{expires.translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))}.{mac}",
        f"r.{expires}.{mac.upper()}", f"r.{expires}.{mac}\n", f" {t}", f"{t} ",
        f"R.{expires}.{mac}", f"r.{expires}.{mac}0", f"r.{expires}.{mac[:-1]}",
    ]
    for bad in spellings:
        assert not tokens.verify("secret", bad, BID, "r", now=1001), bad
    assert tokens.verify("secret", t, BID, "r", now=1001)


def test_token_refused_for_huge_or_odd_expiries_without_error():
    mac = "0" * 64
    for expires in ["9" * 5000, "9" * 16, "-1", "1e9", "0x10", "1.5", ""]:
        assert not tokens.verify("secret", f"r.{expires}.{mac}", BID, "r", now=0)


def test_token_expiring_at_zero_and_far_future_round_trip():
    far = tokens.sign("secret", BID, "w", 10 ** 12, now=0)
    assert tokens.verify("secret", far, BID, "w", now=10 ** 12 - 1)
    assert not tokens.verify("secret", far, BID, "w", now=10 ** 12 + 1)


def test_a_write_tokens_scope_is_part_of_what_it_grants():
    scope = tokens.write_scope(4096, ["http://b:1", "http://c:1"])
    token = tokens.sign("s", "blk", "w", 60, scope=scope)
    assert tokens.verify("s", token, "blk", "w", scope=scope)
    for other in (tokens.write_scope(4097, ["http://b:1", "http://c:1"]),
                  tokens.write_scope(4096, ["http://evil:1"]),
                  tokens.write_scope(4096, ["http://b:1"]), ""):
        assert not tokens.verify("s", token, "blk", "w", scope=other)
