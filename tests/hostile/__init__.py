"""Bad input never yields a 500 and never changes state: it gets the vendor's error.

Generic over vendors. Every route of every vendor app (`app.apps[name].router.routes`) and every
/__admin route (the core's and each vendor's mounted ones) is sent hostile paths, query strings,
bodies, credentials and headers, unauthenticated and with a valid credential of the default tenant.
Every answer must be below 500 and strict JSON; a vendor's 4xx must match its error contract
(contracts/<vendor>/, through the contract-checking MockClient); an admin 4xx is `{"error": str}`;
and a rejected request must leave the clock and every tenant's `Vendor.snapshot()` as they were.
The journal and the sandbox page must still render afterwards.

One module per class of input, each holding its hypothesis fuzz or deterministic sweep and the
explicit examples of each bug found (so a regression names itself):

- test_mixed: every class at once, drawn by hypothesis: vendor routes, admin routes, sequences.
- test_clock: instants for the clock (NaN, 1e308, past either end) and every route at its ends.
- test_dates: date query parameters at and past the representable range (year 1, year 9999).
- test_numbers: numbers at their edges (NaN, ±1e308, huge integers, hex) in queries and bodies.
- test_types: every body property holding every wrong type.
- test_nesting: JSON nested deeper than can be parsed or held.
- test_text: non-ASCII, control characters, lone surrogates, invalid UTF-8 in credentials and ids.
- test_urls: webhook URLs a client registered that cannot be posted to.
- test_transport: what HTTP client libraries normalise away: raw ASGI bytes, a live server.

Shared: `material` (the hostile values), `harness` (`Harness`, `Req`: one app restored between
examples, checking every answer), `strategies` (whole requests drawn from the app's routes),
`conftest` (the `harness` and `h` fixtures).

A new vendor inherits all of this by implementing `snapshot()` on its store. What cannot be
guessed goes in the optional tests/<vendor>/hostile.py: `valid_headers(client)` (valid credentials
of the default tenant, the main one first), and `query_names(path)` or `QUERY_NAMES` (the query
parameters its DTOs declare, so every date filter meets the date edges).

`HOSTILE_SCALE=10` runs ten times the examples with a random seed (a longer local fuzz).
"""
