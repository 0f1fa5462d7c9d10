"""SMS gateways behind one Protocol, chosen by HUB_SMS_URL: console://, smpp://…, http(s)://…"""

from pin.sms.base import SmsGateway, SmsMessage, SmsSendError

__all__ = ["SmsGateway", "SmsMessage", "SmsSendError"]
