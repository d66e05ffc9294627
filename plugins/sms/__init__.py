"""SMS through OneWaySMS or Twilio (S-01, S-02): single and bulk sends, delivery status, opt-outs,
and the ``sms`` message channel other plugins send through."""
