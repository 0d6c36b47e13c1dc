"""Identity resolution: source customer records → persons with stable customer keys.

See docs/identity.md. Modules: config (crm.yml `identity:`), normalise (e-mail, phone,
loyalty id), graph (connected components), keys (stable keys, history), probabilistic
(optional Splink matcher), resolve (the whole step), assets/checks (Dagster), report
(pairwise precision/recall against the generator's truth).
"""
