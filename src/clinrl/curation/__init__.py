"""Building rubric benchmarks with physicians in the loop (ProMedical's pipeline).

* :mod:`~clinrl.curation.pool` — instruction pool: ingest, near-duplicate removal with sentence
  embeddings, LLM difficulty scoring with a kept band, category tags;
* :mod:`~clinrl.curation.drafting` — LLM-drafted rubrics from an expert prompt plus a few-shot pool of
  physician-approved rubrics, validated, re-asked or flagged;
* :mod:`~clinrl.curation.pairs` — candidate responses judged criterion by criterion into lexicographic
  preference pairs and criterion-conditioned reward-model instances.

Physician review itself is the web app in :mod:`clinrl.review`.
"""
