"""Development tools of gloo-bots, apart from the product: the fake Slack and fake Discord
the tests and the bench drive, and ``gloo-bots bench`` (:mod:`devtools.bench`).

Installed with the dev extra (``make test``, ``make bench``). Product code (``core``,
``bots``) never imports this package (an import-linter contract); the CLI reaches the bench
through the ``gloo_bots.tools`` entry-point group, and the bench reaches each platform's
driver through ``gloo_bots.bench``.
"""
