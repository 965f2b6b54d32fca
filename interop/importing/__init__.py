"""Imports of patients and their records from a FHIR Bundle (JSON) or a CSV file (the template).

    files      the upload and the report, sealed at rest; the format decided by content
    fhir       FHIR resources read back into the record's fields; the Bundle streamed (ijson)
    tabular    the CSV template, and its lines read as patients and observations
    values     checks of single values (lengths first, dates, numbers, units via the catalog)
    records    what a row becomes: a patient, an entry, a rejection or a skipped resource
    staging    pass 1's spill to a temporary SQLite database, sealed, read back by patient
    apply      pass 2: one transaction per patient, every write through patients.services
    run        the two passes and the report, for interop.services.import_run
    selectors  who may import, whose jobs a user sees, an MRN as the importing user sees it

The job's life (queue, claim, lease, sweeper) is interop.services's, as imaging's is.
"""
