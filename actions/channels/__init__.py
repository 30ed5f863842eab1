"""Rasa input and output channels of patient-voice (the only code here that imports rasa).

* ``actions.channels.twilio``: SMS (``twilio_sms``) and WhatsApp (``twilio_whatsapp``)
  through Twilio, with signature checks, keyed sender hashes and asynchronous replies.
* ``actions.channels.web``: the web chat.

They are listed in ``credentials.yml`` by their module path.
"""
