"""The ViralStock relay: verifies TikTok Shop webhooks, stores them, streams them per shop.

Protocol: DESIGN.md section 3. Entry points: `relay.cli:main` (`viralstock-relay`),
`relay.server.run_relay` (in-process, for the demo and tests), `relay.tokens` (minting tokens).
"""
