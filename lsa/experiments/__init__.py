"""Chapter drivers: one module per chapter, named after it, holding that chapter's orchestration.

A driver wires the pure "what it computes" modules of the domain packages (``lsa.alignment``, ``lsa.gsa``,
``lsa.prune``, ``lsa.mri``), the data makers (``lsa.data``) and the models (``lsa.models``) into the
experiment a chapter runs, and returns tidy tables and the metrics the chapter writes. Chapters call their
driver and plot; domain modules never import a driver, and drivers never import the runner.
"""
