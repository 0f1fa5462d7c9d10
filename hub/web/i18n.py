"""The pages' two languages: a small message catalogue, chosen by cookie, then by Accept-Language."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "ru"]
LANGS: tuple[Lang, ...] = ("ru", "en")
LANG_COOKIE = "hub_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (English, Russian)
    "app.title": ("Coalition Hub", "Coalition Hub"),
    "nav.scan": ("Scan", "Скан"),
    "nav.venue": ("Dashboard", "Статистика"),
    "nav.concierge": ("Concierge", "Консьерж"),
    "nav.operator": ("Operator", "Оператор"),
    "nav.logout": ("Sign out", "Выйти"),
    "nav.lang": ("Русский", "English"),
    "nav.main": ("Main menu", "Главное меню"),
    "login.title": ("Sign in", "Вход"),
    "login.key": ("API key", "API-ключ"),
    "login.hint": (
        "Paste the key you were given (it starts with hub_). It stays on this device only as a session.",
        "Вставьте выданный ключ (начинается с hub_). На устройстве хранится только сессия.",
    ),
    "login.submit": ("Sign in", "Войти"),
    "login.wrong": (
        "This key is unknown or revoked. Check it, or ask the coalition administrator for a new one.",
        "Ключ не найден или отозван. Проверьте его или попросите у администратора новый.",
    ),
    "login.expired": ("The form expired; sign in again.", "Форма устарела; войдите ещё раз."),
    "login.throttled": (
        "Too many failed sign-ins from here; try again in {seconds} s.",
        "Слишком много неудачных попыток входа; попробуйте снова через {seconds} с.",
    ),
    "role.title": ("Not for this key", "Недоступно для этого ключа"),
    "role.body": (
        "You are signed in with {a_role} key; this page needs one of: {roles}. "
        "Sign out and sign in with the right key.",
        "Вы вошли с ключом роли «{role}»; эта страница требует: {roles}. "
        "Выйдите и войдите с подходящим ключом.",
    ),
    "role.other": ("Your pages", "Ваши страницы"),
    "error.title": ("Something went wrong", "Что-то пошло не так"),
    "error.back": ("Back", "Назад"),
    "scan.title": ("Scan a card", "Сканирование карты"),
    "scan.code": ("Card, QR or phone", "Карта, QR или телефон"),
    "scan.code_hint": (
        "Scan with the scanner, or type the number and press Enter.",
        "Отсканируйте сканером или введите номер и нажмите Enter.",
    ),
    "scan.go": ("Check", "Проверить"),
    "scan.camera": ("Camera", "Камера"),
    "scan.camera_stop": ("Stop camera", "Выключить камеру"),
    "scan.program": ("Program", "Программа"),
    "scan.tier": ("Tier", "Уровень"),
    "scan.guest": ("Guest", "Гость"),
    "scan.phone": ("SMS sent to", "SMS отправлено на"),
    "scan.pin": ("PIN from the guest's SMS", "PIN из SMS гостя"),
    "scan.pin_submit": ("Confirm", "Подтвердить"),
    "scan.pin_clear": ("Clear", "Стереть"),
    "scan.resend": ("Send a new PIN", "Отправить новый PIN"),
    "scan.resend_in": ("New PIN in {s} s", "Новый PIN через {s} с"),
    "scan.attempts": ("Attempts left: {n}", "Осталось попыток: {n}"),
    "scan.discount": ("Discount", "Скидка"),
    "scan.excluded": ("Not on", "Не распространяется на"),
    "scan.perks": ("Also", "Также"),
    "scan.max": ("At most {amount}", "Не более {amount}"),
    "scan.balance": ("Bonus balance", "Бонусный баланс"),
    "scan.payable": ("Payable by bonus", "Можно оплатить бонусами"),
    "scan.payable_pct": ("up to {p}% of the check", "до {p}% чека"),
    "scan.next": ("Next guest", "Следующий гость"),
    "scan.verified": ("Verified", "Подтверждено"),
    "scan.own_card": ("Venue's own card", "Карта заведения"),
    "scan.working": ("Checking…", "Проверяем…"),
    "err.card_not_recognized": (
        "Card not recognised — check the number, or scan again.",
        "Карта не распознана — проверьте номер или отсканируйте ещё раз.",
    ),
    "err.member_blocked": (
        "This card is blocked — no discount; the guest may call the program.",
        "Карта заблокирована — скидки нет; гость может позвонить в программу.",
    ),
    "err.pin_invalid": (
        "Wrong PIN — ask the guest to read it again.",
        "Неверный PIN — попросите гостя прочитать ещё раз.",
    ),
    "err.pin_locked": (
        "Too many wrong PINs — scan the card again later.",
        "Слишком много неверных PIN — отсканируйте карту позже.",
    ),
    "err.pin_expired": ("PIN expired — send a new one.", "PIN истёк — отправьте новый."),
    "err.pin_already_used": (
        "This PIN was already used — scan the card again.",
        "Этот PIN уже использован — отсканируйте карту заново.",
    ),
    "err.rate_limited": (
        "Too many SMS for now — wait for the countdown, then send again.",
        "Слишком много SMS — дождитесь отсчёта и отправьте снова.",
    ),
    "err.unauthenticated": (
        "Your session has ended — sign in again.",
        "Сессия закончилась — войдите снова.",
    ),
    "err.network": (
        "No connection to the hub — check the Wi-Fi and try again.",
        "Нет связи с хабом — проверьте Wi-Fi и повторите.",
    ),
    "err.other": ("Something went wrong — try again.", "Что-то пошло не так — повторите."),
    "venue.title": ("Venue dashboard", "Статистика заведения"),
    "venue.pick": ("Venue", "Заведение"),
    "venue.show": ("Show", "Показать"),
    "venue.from": ("From", "С"),
    "venue.to": ("To", "По"),
    "venue.period": ("{from} – {to}", "{from} – {to}"),
    "venue.visits": ("Visits", "Визиты"),
    "venue.guests": ("Guests", "Гости"),
    "venue.receipts": ("Receipts", "Чеки"),
    "venue.awaiting": ("Awaiting the check", "Ждут чека"),
    "venue.check_sum": ("Check sum", "Сумма чеков"),
    "venue.average": ("Average check", "Средний чек"),
    "venue.discounts": ("Discounts", "Скидки"),
    "venue.by_day": ("Visits and check sums by day", "Визиты и суммы чеков по дням"),
    "venue.by_program": ("By program", "По программам"),
    "venue.by_tier": ("By tier", "По уровням"),
    "venue.program": ("Program", "Программа"),
    "venue.tier": ("Tier", "Уровень"),
    "venue.date": ("Date", "Дата"),
    "venue.connectors": ("Our connectors", "Наши коннекторы"),
    "venue.no_connectors": ("No connectors.", "Коннекторов нет."),
    "venue.download": ("Download", "Скачать"),
    "venue.none": ("No venues for this key.", "Для этого ключа нет заведений."),
    "venue.nothing": ("No visits in this period yet.", "За этот период визитов пока нет."),
    "conn.name": ("Connector", "Коннектор"),
    "conn.status": ("State", "Состояние"),
    "conn.last_ok": ("Last delivery", "Последняя доставка"),
    "conn.last_fail": ("Last failure", "Последняя ошибка"),
    "conn.queue": ("Queue", "Очередь"),
    "conn.dead": ("Dead", "Не доставлено"),
    "conn.latency": ("Latency p50 / p99", "Задержка p50 / p99"),
    "conn.errors": ("Error rate", "Доля ошибок"),
    "conn.token": ("Token expires", "Токен истекает"),
    "conn.replay": ("Replay dead", "Повторить недоставленные"),
    "conn.never": ("never", "никогда"),
    "ops.title": ("Operator board", "Панель оператора"),
    "ops.connectors": ("Connectors", "Коннекторы"),
    "ops.dead": ("Dead deliveries", "Недоставленные события"),
    "ops.no_dead": (
        "Nothing dead: every event was delivered or is on its way.",
        "Всё доставлено или в пути.",
    ),
    "ops.event": ("Event", "Событие"),
    "ops.error": ("Last error", "Последняя ошибка"),
    "ops.attempts": ("Attempts", "Попытки"),
    "ops.retry": ("Retry", "Повторить"),
    "ops.retried": ("Queued again", "Снова в очереди"),
    "ops.replayed": ("{n} queued again", "В очереди снова: {n}"),
    "ops.import": ("Import members", "Импорт участников"),
    "ops.import_program": ("Program", "Программа"),
    "ops.import_file": (
        "CSV file (card_number,phone,name,tier_code)",
        "CSV-файл (card_number,phone,name,tier_code)",
    ),
    "ops.import_start": ("Import", "Импортировать"),
    "ops.import_progress": ("Import progress", "Ход импорта"),
    "ops.import_done": (
        "Done: {created} created, {updated} updated, {rejected} rejected.",
        "Готово: создано {created}, обновлено {updated}, отклонено {rejected}.",
    ),
    "ops.import_running": ("{done} of {total} rows", "{done} из {total} строк"),
    "con.title": ("Concierge", "Консьерж"),
    "con.find": ("Find a guest", "Найти гостя"),
    "con.find_by": ("Card number or phone", "Номер карты или телефон"),
    "con.search": ("Search", "Искать"),
    "con.book": ("Book a table", "Забронировать"),
    "con.venue": ("Venue", "Заведение"),
    "con.when": ("When", "Когда"),
    "con.party": ("Guests", "Гостей"),
    "con.note": ("Note", "Комментарий"),
    "con.booked": ("Booked.", "Забронировано."),
    "con.referrals": ("Referrals", "Направления"),
    "con.status": ("Status", "Статус"),
    "con.check_sum": ("Check sum", "Сумма чека"),
    "con.top_venues": ("Top venues", "Лучшие заведения"),
    "con.districts": ("Districts", "Районы"),
    "con.history": ("Guest history", "История гостя"),
    "con.no_member": (
        "No guest with this card or phone — check the number, or search by the phone the card was issued to.",
        "Гость с такой картой или телефоном не найден — проверьте номер или ищите по телефону, на который "
        "выдана карта.",
    ),
    "con.visits": ("Visits", "Визиты"),
    "con.program": ("Program", "Программа"),
    "con.conversion": ("Came: {visited} of {booked} ({pct}%)", "Пришли: {visited} из {booked} ({pct}%)"),
    "con.none": ("Nothing yet.", "Пока ничего."),
    "con.program_pick": ("Program", "Программа"),
    "con.show": ("Show", "Показать"),
    "con.find_hint": (
        "A card number as printed, or a phone in any format (+7 916 …, 8 916 …).",
        "Номер карты как на карте или телефон в любом формате (+7 916 …, 8 916 …).",
    ),
    "con.found": ("Guests found", "Найденные гости"),
    "con.choose": ("Choose", "Выбрать"),
    "con.chosen": ("Chosen", "Выбран"),
    "con.guest": ("Guest", "Гость"),
    "con.card": ("Card", "Карта"),
    "con.phone": ("Phone", "Телефон"),
    "con.tier": ("Tier", "Уровень"),
    "con.when_hint": ("Local time at the venue.", "Местное время заведения."),
    "con.party_hint": ("Optional.", "Необязательно."),
    "con.no_venues": (
        "No venue serves this program yet — ask the coalition administrator to add an offer.",
        "Эту программу пока не обслуживает ни одно заведение — попросите администратора коалиции "
        "добавить предложение.",
    ),
    "con.no_program": (
        "This key serves no coalition program — ask the coalition administrator to add one to the key.",
        "Этот ключ не обслуживает ни одной программы коалиции — попросите администратора добавить её в ключ.",
    ),
    "con.booked_at": ("Booked: {venue}, {at}.", "Забронировано: {venue}, {at}."),
    "con.all": ("All", "Все"),
    "con.more": ("Next page", "Следующая страница"),
    "con.first": ("First page", "Первая страница"),
    "con.download": ("Download", "Скачать"),
    "con.s.booked": ("booked", "забронировано"),
    "con.s.visited": ("visited", "пришёл"),
    "con.s.expired": ("expired", "не пришёл"),
    "con.s.cancelled": ("cancelled", "отменено"),
    "con.period": ("{from} – {to}", "{from} – {to}"),
    "con.k_hint": (
        "A venue or district is listed once at least {k} different guests came (their privacy).",
        "Заведение или район показывается, когда в нём побывали не менее {k} разных гостей "
        "(ради их приватности).",
    ),
    "con.no_ranking": (
        "Not enough guests yet for a ranking — it appears as visits come in.",
        "Для рейтинга пока мало гостей — он появится по мере визитов.",
    ),
    "con.district": ("District", "Район"),
    "con.guests": ("Guests", "Гости"),
    "con.total": ("Spent", "Потрачено"),
    "con.last_visit": ("Last visit", "Последний визит"),
    "con.favourites": ("Favourite venues", "Любимые заведения"),
    "con.date": ("Date", "Дата"),
    "con.no_visits": ("No visits yet.", "Визитов пока нет."),
    "con.err.member": (
        "This guest is not in the program — search for the guest again, then book.",
        "Этого гостя нет в программе — найдите гостя заново и забронируйте.",
    ),
    "con.err.venue": (
        "This venue does not serve the program — choose another venue from the list.",
        "Это заведение не обслуживает программу — выберите другое заведение из списка.",
    ),
    "con.err.program": (
        "This key does not serve that program — choose a program from the list, or sign in with its key.",
        "Этот ключ не обслуживает эту программу — выберите программу из списка или войдите с её ключом.",
    ),
    "con.err.expected_at": (
        "Pick a date and time from today on (a time long past cannot be booked).",
        "Выберите дату и время начиная с сегодняшнего дня (давно прошедшее время забронировать нельзя).",
    ),
    "con.err.party_size": (
        "Guests must be a number from 1 to 500 — correct it or leave it empty.",
        "Число гостей — от 1 до 500; исправьте или оставьте пустым.",
    ),
    "con.err.note": (
        "The note is too long — keep it under 2000 characters.",
        "Комментарий слишком длинный — не более 2000 символов.",
    ),
    "con.err.other": (
        "Check the form and try again; if it keeps failing, tell the coalition administrator.",
        "Проверьте форму и повторите; если не получается, сообщите администратору коалиции.",
    ),
    # export column headers (hub.exports: `col.<field path>`) and sheet names (`sheet.<table>`)
    "col.visits": ("Visits", "Визиты"),
    "col.unique_guests": ("Unique guests", "Уникальные гости"),
    "col.receipts": ("Receipts", "Чеки"),
    "col.visits_awaiting_check": ("Visits awaiting the check", "Визиты без чека"),
    "col.check_sum_minor": ("Check sum", "Сумма чеков"),
    "col.average_check_minor": ("Average check", "Средний чек"),
    "col.discount_sum_minor": ("Discounts", "Сумма скидок"),
    "col.date": ("Date", "Дата"),
    "col.date_from": ("Period from", "Начало периода"),
    "col.date_to": ("Period to", "Конец периода"),
    "col.currency": ("Currency", "Валюта"),
    "col.k_anonymity": ("k-anonymity", "k-анонимность"),
    "col.venue_id": ("Venue ID", "ID заведения"),
    "col.venue_name": ("Venue", "Заведение"),
    "col.program_id": ("Program ID", "ID программы"),
    "col.program_name": ("Program", "Программа"),
    "col.partner_id": ("Partner ID", "ID партнёра"),
    "col.partner_name": ("Partner", "Партнёр"),
    "col.kind": ("Kind", "Тип"),
    "col.tier_code": ("Tier code", "Код уровня"),
    "col.referrals.booked": ("Referrals booked", "Направлено"),
    "col.referrals.visited": ("Referrals visited", "Пришли по направлению"),
    "col.referrals.conversion": ("Referral conversion", "Конверсия направлений"),
    "col.tier_name": ("Tier", "Уровень"),
    "col.city": ("City", "Город"),
    "col.district": ("District", "Район"),
    "col.key": ("Key", "Ключ"),
    "col.label": ("Period, venue or tier", "Период, заведение или уровень"),
    "col.cards_issued": ("Cards issued", "Выдано карт"),
    "col.registered": ("Registered", "Зарегистрировано"),
    "col.purchase_sum_minor": ("Purchases", "Сумма покупок"),
    "col.purchase_count": ("Purchase count", "Число покупок"),
    "col.items_per_check": ("Items per check", "Позиций в чеке"),
    "col.segment": ("Segment", "Сегмент"),
    "col.members": ("Members", "Участники"),
    "col.member_id": ("Member ID", "ID участника"),
    "col.recency_days": ("Days since the last visit", "Дней с последнего визита"),
    "col.frequency": ("Visits in the window", "Визитов за период"),
    "col.monetary_minor": ("Spent", "Потрачено"),
    "col.r_score": ("R", "R"),
    "col.f_score": ("F", "F"),
    "col.m_score": ("M", "M"),
    "col.id": ("ID", "ID"),
    "col.venue.id": ("Venue ID", "ID заведения"),
    "col.venue.name": ("Venue", "Заведение"),
    "col.venue.district": ("District", "Район"),
    "col.venue.timezone": ("Time zone", "Часовой пояс"),
    "col.verified_at": ("Verified", "Подтверждён"),
    "col.status": ("Status", "Статус"),
    "col.receipt_id": ("Receipt ID", "ID чека"),
    "col.closed_at": ("Closed", "Закрыт"),
    "col.discount_minor": ("Discount", "Скидка"),
    "col.total_minor": ("Total", "Итого"),
    "col.refunded_minor": ("Refunded", "Возвращено"),
    "col.card_number": ("Card", "Карта"),
    "col.expected_at": ("Expected", "Ожидается"),
    "col.window_opens_at": ("Window opens", "Окно с"),
    "col.window_closes_at": ("Window closes", "Окно до"),
    "col.party_size": ("Guests", "Гостей"),
    "col.note": ("Note", "Комментарий"),
    "col.visit_id": ("Visit ID", "ID визита"),
    "col.visited_at": ("Visited", "Пришёл"),
    "col.created_at": ("Created", "Создано"),
    "col.updated_at": ("Updated", "Изменено"),
    "col.cancelled_at": ("Cancelled", "Отменено"),
    "col.name": ("Name", "Имя"),
    "col.phone_masked": ("Phone", "Телефон"),
    "col.event_id": ("Event ID", "ID события"),
    "col.event_type": ("Event", "Событие"),
    "col.connector_id": ("Connector ID", "ID коннектора"),
    "col.attempts": ("Attempts", "Попытки"),
    "col.next_attempt_at": ("Next attempt", "Следующая попытка"),
    "col.delivered_at": ("Delivered", "Доставлено"),
    "col.last_error": ("Last error", "Последняя ошибка"),
    "col.last_status_code": ("Last status code", "Последний код ответа"),
    "sheet.totals": ("Totals", "Итого"),
    "sheet.by_day": ("By day", "По дням"),
    "sheet.by_program": ("By program", "По программам"),
    "sheet.by_tier": ("By tier", "По уровням"),
    "sheet.top_venues": ("Top venues", "Заведения"),
    "sheet.by_partner": ("By partner", "По партнёрам"),
    "sheet.by_district": ("By district", "По районам"),
    "sheet.rows": ("Summary", "Сводка"),
    "sheet.total": ("Total", "Итого"),
    "sheet.segments": ("Segments", "Сегменты"),
    "sheet.members": ("Members", "Участники"),
    "sheet.member-visits": ("Visits", "Визиты"),
    "sheet.referrals": ("Referrals", "Направления"),
    "sheet.deliveries": ("Deliveries", "Доставки"),
    "sheet.settlement": ("Settlement", "Взаиморасчёты"),
}


def pick(accept_language: str | None, cookie: str | None) -> Lang:
    """The cookie wins; else the first of ru/en in Accept-Language (by q order); else Russian."""
    if cookie in LANGS:
        return "ru" if cookie == "ru" else "en"
    ranked: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()[:2]))
    for _, tag in sorted(ranked, key=lambda r: -r[0]):
        if tag == "en":
            return "en"
        if tag == "ru":
            return "ru"
    return "ru"


def translate(lang: Lang, key: str, **values: object) -> str:
    english, russian = MESSAGES.get(key, (key, key))
    text = russian if lang == "ru" else english
    return text.format(**values) if values else text


def catalogue(lang: Lang, prefix: str) -> dict[str, str]:
    """The messages a page's script needs, in its language."""
    return {key: translate(lang, key) for key in MESSAGES if key.startswith(prefix)}
