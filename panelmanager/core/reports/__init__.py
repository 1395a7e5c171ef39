"""Printed documents, made with reportlab (no Qt): huddle sheets, letters, labels and lists.

Each module builds one kind of document from plain data (``Contact``, ``HuddleSheet``...)
into a file the user chose or a binary buffer for the app's preview:

``huddle.build_huddle_sheet``          the daily huddle, one section per provider
``letters.build_letters``              outreach letters (templates in resources/letters)
``letters.build_calibration_page``     checks the #10 window envelope position
``labels.build_labels``                Avery 5160 mailing labels
``calllist.write_call_list``           call lists as PDF, CSV or XLSX
``panel_review.build_panel_review_pdf`` a provider's panel to tick "mine / not mine"
``portal_export.write_portal_export``  CSV for a patient-portal or texting tool

The data they print comes from ``core.huddle`` and ``core.outreach``.
"""
