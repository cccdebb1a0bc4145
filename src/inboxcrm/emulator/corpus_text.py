# ruff: noqa: RUF001
"""Word material for the mailbox generator: names, companies, subjects and sentences in a few
languages (with the charsets real mail in those languages tends to use)."""

from __future__ import annotations

FIRST_NAMES = (
    "Anna", "Ben", "Carla", "David", "Elif", "Fatma", "Georg", "Hannah", "Ivan", "Jana", "Kemal",
    "Laura", "Mehmet", "Nina", "Oliver", "Paula", "Quentin", "Rosa", "Stefan", "Tomás", "Ursula",
    "Viktor", "Wei", "Xavier", "Yuki", "Zeynep", "Søren", "Chloé", "Jürgen", "Ayşe", "Łukasz",
    "Noémie", "Dmitri", "Haruto", "Sofia", "Liam", "Emma", "Noah", "Mia", "Lucas", "Ömer",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Yılmaz", "Garcia", "Smith", "Müller", "Öztürk", "Dubois", "Rossi", "Nowak",
    "Ivanova", "Tanaka", "Johansson", "Kaya", "Novak", "Brown", "Weber", "Demir", "Martin",
    "Fischer", "Lopez", "Kowalski", "Sato", "Andersen", "Çelik", "Lefèvre", "Wagner", "Taylor",
    "Hoffmann", "Şahin", "Bianchi", "Petrov", "Nielsen", "Kim", "Doğan", "Moreau", "Becker",
)  # fmt: skip
CUSTOMER_COMPANIES = (
    "northwind", "globex", "initech", "umbrella-retail", "stark-logistics", "wayne-foods",
    "acme-tools", "hooli-cloud", "vandelay-import", "soylent-health", "tyrell-robotics",
    "cyberdyne-labs", "oceanic-air", "massive-dynamic", "wonka-sweets", "gringotts-finance",
    "pied-piper", "monarch-textil", "anatolia-gida", "bosporus-tekstil",
)  # fmt: skip
OTHER_COMPANIES = (
    "cloudhost", "printshop", "officesupply", "taxadvisors", "recruitly", "datasafe",
    "travelbooking", "coworking", "legalpartners", "marketingpros", "hardware-store",
    "insurance-direct", "telco-mobile", "energy-provider", "fleet-leasing",
)  # fmt: skip
FREE_MAIL = (
    "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me",
    "gmx.de", "web.de", "yandex.ru", "yahoo.co.jp",
)  # fmt: skip
LISTS = (
    ("dev", "Project developers"), ("announce", "Announcements"), ("users", "User community"),
    ("sales-team", "Sales team"), ("meetup-istanbul", "Istanbul Python meetup"),
)  # fmt: skip

# language code → (subjects, sentences, body charsets)
LANGUAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        (
            "Quote for {item}",
            "Meeting next {day}?",
            "Invoice {num}",
            "Follow-up: {item}",
            "Question about {item}",
            "Contract renewal {num}",
            "Your order {num} has shipped",
            "Demo of {item}",
            "Feedback on the {item} proposal",
            "Lunch on {day}",
            "Support ticket #{num}: {item} not working",
            "Agenda for {day}",
        ),
        (
            "Thanks for getting back to me so quickly.",
            "Could you send the updated figures?",
            "We reviewed the proposal with the team and have a few questions.",
            "Let me know if {day} works for you.",
            "The delivery is planned for next week.",
            "Please find the details below.",
            "I have attached the document we discussed.",
            "Our budget for this quarter is confirmed.",
            "Can we move the call to the afternoon?",
            "The pricing looks fine, but the timeline is tight.",
            "I will forward this to our procurement department.",
            "We had an issue with the last shipment; two boxes were damaged.",
            "Happy to set up a short demo for your colleagues.",
            "Best regards and have a nice weekend.",
        ),
        ("us-ascii", "utf-8"),
    ),
    "de": (
        (
            "Angebot für {item}",
            "Rückfrage zur Rechnung {num}",
            "Termin am {day}",
            "Änderungen am Vertrag {num}",
            "Grüße aus München",
        ),
        (
            "Vielen Dank für Ihre schnelle Rückmeldung.",
            "Können Sie uns die Unterlagen schicken?",
            "Wir würden gerne einen Termin für nächste Woche vereinbaren.",
            "Die Lieferung verzögert sich leider um zwei Tage.",
            "Anbei finden Sie das überarbeitete Angebot.",
            "Mit freundlichen Grüßen",
        ),
        ("iso-8859-1", "utf-8"),
    ),
    "tr": (
        (
            "{item} için teklif",
            "Fatura {num} hakkında",
            "{day} günü toplantı",
            "Sipariş {num} gönderildi",
            "Görüşme notları",
        ),
        (
            "Hızlı dönüşünüz için teşekkür ederiz.",
            "Güncel fiyat listesini paylaşabilir misiniz?",
            "Toplantıyı öğleden sonraya alabilir miyiz?",
            "Sözleşme taslağını ekte bulabilirsiniz.",
            "İyi çalışmalar dilerim.",
        ),
        ("iso-8859-9", "utf-8", "windows-1254"),
    ),
    "fr": (
        ("Devis pour {item}", "Réunion de {day}", "Facture n° {num}", "Question sur la livraison"),
        (
            "Merci pour votre réponse rapide.",
            "Pourriez-vous nous envoyer le devis révisé ?",
            "La livraison est prévue pour la semaine prochaine.",
            "Bien cordialement",
        ),
        ("iso-8859-1", "utf-8"),
    ),
    "ru": (
        ("Предложение по {item}", "Счёт {num}", "Встреча в {day}"),
        (
            "Спасибо за быстрый ответ.",
            "Не могли бы вы прислать обновлённые цифры?",
            "Поставка запланирована на следующую неделю.",
            "С уважением",
        ),
        ("koi8-r", "utf-8"),
    ),
    "ja": (
        ("{item}のお見積もり", "請求書 {num} について", "{day}の打ち合わせ"),
        (
            "ご連絡ありがとうございます。",
            "資料を送っていただけますか。",
            "来週の打ち合わせの日程を調整させてください。",
            "よろしくお願いいたします。",
        ),
        ("iso-2022-jp", "utf-8"),
    ),
}
LANGUAGE_WEIGHTS = (("en", 70), ("de", 10), ("tr", 8), ("fr", 5), ("ru", 4), ("ja", 3))
ITEMS = (
    "the CRM rollout", "50 office chairs", "the Q3 campaign", "server maintenance",
    "the annual licence", "the new warehouse", "API access", "the training workshop",
    "spare parts", "the website redesign", "consulting hours", "the pilot project",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
ATTACHMENTS = (
    ("proposal.pdf", "application/pdf"), ("invoice.pdf", "application/pdf"),
    ("photo.jpg", "image/jpeg"), ("figures.csv", "text/csv"), ("logo.png", "image/png"),
    ("contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("Angebot_Übersicht.pdf", "application/pdf"), ("sözleşme taslağı.pdf", "application/pdf"),
)  # fmt: skip
SPAM_SUBJECTS = (
    "You have WON a prize!!!",
    "Cheap meds, no prescription",
    "Urgent business proposal",
)
NEWSLETTER_SUBJECTS = (
    "Your weekly digest", "New features this month", "Your invoice is available",
    "Security alert for your account", "Last chance: 30% off",
)  # fmt: skip
