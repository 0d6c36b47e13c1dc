"""Campaign target lists, the outbox for campaign tools, and campaign results (issue 6).

See docs/targeting.md. Assets: ``pipelines.targeting.assets``; list definitions:
``pipelines/targeting/target_lists.yml``; configuration: ``crm.yml`` ``targeting:``.
"""
