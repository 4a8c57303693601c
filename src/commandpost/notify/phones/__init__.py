"""SMS and voice pages through pluggable providers (Twilio, Vonage) that fail over to one another.

``base`` holds the provider interface and the failover, ``twilio`` and ``vonage`` the providers,
``sms`` and ``voice`` the two channels the sender calls, ``webhooks`` what the inbound hooks need to
trust a provider's callback and read it, and ``setup`` builds it all from Settings.
"""
