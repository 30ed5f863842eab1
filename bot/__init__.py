"""patient-voice core: store, anonymiser, catalogues, survey and exports.

Nothing in this package imports ``rasa`` or ``rasa_sdk``; only ``actions/`` does.
"""
