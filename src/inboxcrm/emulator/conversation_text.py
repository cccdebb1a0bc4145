# ruff: noqa: RUF001
"""What generated conversations say: per subject, an opening that asks, replies that answer it,
and follow-ups that move it on, so a thread reads like real correspondence about its subject.

A thread's first message takes an ``open`` line of its subject's script, each reply an ``answer``
and each later turn of the first writer a ``follow``; ``{item}``, ``{day}`` and ``{num}`` are the
values in the subject, ``{other_day}`` another weekday. The n-th answer and the n-th follow-up of
a thread use the same index, so the follow-up fits the answer ("{other_day} afternoon instead?" →
"{other_day} works too"); the index moves on with each round and starts from the subject's
number, so threads differ and the same sentence seldom appears twice on one record. Languages
other than English have one general script each (their subjects are few and short).
"""

from __future__ import annotations

Script = dict[str, tuple[str, ...]]

#: English scripts, keyed by the subject template of ``corpus_text.LANGUAGES["en"]``.
EN_SCRIPTS: dict[str, Script] = {
    "Quote for {item}": {
        "open": (
            "Could you send us a quote for {item}? We would like to decide by {day}.",
            "We are planning {item} for next quarter and need a price to compare offers.",
            "Our team asked me to get a quote for {item}, including delivery and support.",
        ),
        "answer": (
            "Thanks for asking. Our quote for {item} is attached: {num} EUR, valid for 30 days.",
            "Here is our offer for {item}. Delivery and the first year of support are included.",
            "Happy to help. For {item} we can offer {num} EUR; the details are in the quote.",
        ),
        "follow": (
            "Thanks, the quote is within our budget. Could you split licence and services?",
            "We compared the offers for {item}. Is there room on the price if we sign by {day}?",
            "Procurement has one question: does the price for {item} include installation?",
        ),
    },
    "Meeting next {day}?": {
        "open": (
            "Would you have time for a meeting next {day}? An hour in the morning would be ideal.",
            "Shall we meet next {day} to go through the open points? I can come to your office.",
            "Are you free next {day}? I would like to show you our plan for the next phase.",
        ),
        "answer": (
            "Next {day} works for me. Shall we say 10:00 at our office?",
            "{day} is difficult, I am travelling. Could we do {other_day} afternoon instead?",
            "Yes, next {day} is fine. I will send you a calendar invitation for 14:00.",
        ),
        "follow": (
            "Great, 10:00 it is. I will bring the updated figures.",
            "{other_day} afternoon is fine too; let us say 15:00.",
            "Thanks for the invitation, accepted. See you on {day}.",
        ),
    },
    "Invoice {num}": {
        "open": (
            "Please find attached invoice {num} for last month's work, payable within 30 days.",
            "Our invoice {num} is attached. Let me know if you need a purchase order number on it.",
        ),
        "answer": (
            "Thanks, invoice {num} has been forwarded to accounts payable.",
            "Could you re-issue invoice {num} with our purchase order number? Finance needs it.",
            "Invoice {num} was paid this morning; you should see the transfer in two days.",
        ),
        "follow": (
            "Thank you. Could you confirm the expected payment date?",
            "Here is invoice {num} again, now with your purchase order number.",
            "Thank you, payment of invoice {num} has arrived.",
        ),
    },
    "Follow-up: {item}": {
        "open": (
            "Following up on our call about {item}: here is a summary of what we agreed.",
            "A quick follow-up on {item}. Have you had a chance to discuss it with your team?",
        ),
        "answer": (
            "Thanks for the summary; that matches my notes. We will confirm {item} by {day}.",
            "We discussed {item} yesterday. The team is positive but wants a pilot first.",
            "Sorry for the delay on {item}; our director is back on {day} and will decide then.",
        ),
        "follow": (
            "Great, I will wait for your confirmation on {day}.",
            "A pilot is a good idea. I can propose a four-week plan for {item}.",
            "Understood, I will check in again on {other_day}.",
        ),
    },
    "Question about {item}": {
        "open": (
            "I have a question about {item}: can it be split into two phases?",
            "Before we go ahead with {item}: who would be our contact person on your side?",
            "About {item}: is training for our staff part of the package?",
        ),
        "answer": (
            "Good question. Yes, {item} can be split; the second phase would start after review.",
            "Your contact for {item} would be me, with our support team as backup.",
            "Training is included for up to ten people; more can be added at a day rate.",
        ),
        "follow": (
            "Thanks, that helps. Two phases would suit our budget better.",
            "Thanks, good to know whom to call.",
            "Perfect. Could you send the training dates so that we can plan?",
        ),
    },
    "Contract renewal {num}": {
        "open": (
            "Contract {num} runs out at the end of next month. Shall we renew on the same terms?",
            "Our contract {num} is up for renewal; we would like to add two more users.",
        ),
        "answer": (
            "Yes, we would like to renew contract {num}. Could you send the renewal documents?",
            "We can renew contract {num} with the extra users at the current price per user.",
            "Before renewing contract {num} we would like to review the service levels.",
        ),
        "follow": (
            "The renewal documents for contract {num} are attached for signature.",
            "Great, I will send the updated contract with the extra users.",
            "Let us review the service levels on {day}; I will prepare last year's figures.",
        ),
    },
    "Your order {num} has shipped": {
        "open": (
            "Your order {num} left our warehouse today and should arrive within three days.",
            "Good news: order {num} has shipped. The tracking number is in the attachment.",
        ),
        "answer": (
            "Thanks. Order {num} arrived this morning, but two boxes were damaged.",
            "Thank you, we received order {num} complete and in good condition.",
        ),
        "follow": (
            "Sorry about the damaged boxes; replacements for order {num} go out today.",
            "Glad to hear it. Let us know when you need the next delivery.",
        ),
    },
    "Demo of {item}": {
        "open": (
            "Would your team like a short demo of {item}? Thirty minutes online is usually enough.",
            "As promised, here are some times for a demo of {item}: {day} morning or {other_day}.",
        ),
        "answer": (
            "Yes please, a demo of {item} on {day} would be great for our colleagues.",
            "{other_day} works better for us; four people will join the demo.",
        ),
        "follow": (
            "Thanks for joining the demo. The slides and a trial account are attached.",
            "Confirmed for the demo. I will send the link the day before.",
        ),
    },
    "Feedback on the {item} proposal": {
        "open": (
            "Our feedback on the {item} proposal: the scope is right, the timeline is tight.",
            "We read the {item} proposal with interest and have three comments, listed below.",
        ),
        "answer": (
            "Thanks for the feedback on {item}. We can extend the timeline by two weeks.",
            "Thank you, those comments are fair. A revised {item} proposal follows by {day}.",
        ),
        "follow": (
            "The longer timeline works for us. Please send the revised proposal.",
            "Thanks, the revised proposal addresses our comments. We will decide on {day}.",
        ),
    },
    "Lunch on {day}": {
        "open": (
            "Are you free for lunch on {day}? There is a nice place near your office.",
            "Shall we catch up over lunch on {day}? My treat this time.",
        ),
        "answer": (
            "Lunch on {day} sounds good. 12:30?",
            "I would love to, but {day} is full. How about {other_day}?",
        ),
        "follow": ("12:30 is perfect, see you then.", "{other_day} works. I will book a table."),
    },
    "Support ticket #{num}: {item} not working": {
        "open": (
            "Since this morning {item} is not working for us: users see an error when saving.",
            "We opened ticket #{num}: {item} stopped working after yesterday's update.",
        ),
        "answer": (
            "Thanks for reporting ticket #{num}. We found the cause and a fix is being tested.",
            "We are looking into ticket #{num}. Could you send a screenshot of the error?",
            "The problem with {item} is fixed. Could you check that it works again on your side?",
        ),
        "follow": (
            "Thanks, please let us know when the fix is live.",
            "The screenshot is attached. The error appears for every user.",
            "Confirmed, {item} works again. Thanks for the quick help; you can close #{num}.",
        ),
    },
    "Agenda for {day}": {
        "open": (
            "Here is the agenda for {day}: status, budget, next steps. Anything to add?",
            "Attached is the draft agenda for {day}. We have ninety minutes.",
        ),
        "answer": (
            "Thanks for the agenda. Could we add ten minutes on the training plan?",
            "The agenda for {day} looks complete to me.",
        ),
        "follow": (
            "Added the training plan to the agenda. See you on {day}.",
            "Great, then we keep the agenda as it is.",
        ),
    },
}

#: The general script of each other language (and of English subjects without a script).
GENERAL_SCRIPTS: dict[str, Script] = {
    "en": {
        "open": (
            "I am writing about {subject}. Could you let me know how you would like to proceed?",
        ),
        "answer": ("Thanks for your message about {subject}. Here is where we stand.",),
        "follow": ("Thanks for the update on {subject}; that answers my question.",),
    },
    "de": {
        "open": (
            "ich melde mich wegen „{subject}“. Können Sie mir die Unterlagen dazu schicken?",
            "zu „{subject}“ hätten wir noch einige Fragen. Passt Ihnen ein Telefonat am {day}?",
        ),
        "answer": (
            "vielen Dank für Ihre Nachricht. Die Unterlagen zu „{subject}“ finden Sie anbei.",
            "gerne, am {day} um 10 Uhr passt es mir gut.",
        ),
        "follow": (
            "danke, das hilft uns weiter. Wir melden uns bis Ende der Woche.",
            "vielen Dank, dann bis {day}.",
        ),
    },
    "tr": {
        "open": (
            "“{subject}” konusunda yazıyorum. Güncel bilgileri paylaşabilir misiniz?",
            "“{subject}” ile ilgili birkaç sorumuz var. {day} günü görüşebilir miyiz?",
        ),
        "answer": (
            "Mesajınız için teşekkürler. “{subject}” ile ilgili dosyalar ekte.",
            "{day} günü saat 10:00 bizim için uygun.",
        ),
        "follow": ("Teşekkürler, bu bilgiler yeterli.", "Anlaştık, {day} günü görüşmek üzere."),
    },
    "fr": {
        "open": (
            "je vous écris au sujet de « {subject} ». Pourriez-vous nous envoyer les détails ?",
        ),
        "answer": ("merci pour votre message. Vous trouverez les détails ci-joints.",),
        "follow": ("merci, c'est parfait pour nous.",),
    },
    "ru": {
        "open": ("пишу по поводу «{subject}». Не могли бы вы прислать подробности?",),
        "answer": ("спасибо за письмо. Подробности во вложении.",),
        "follow": ("спасибо, это то, что нам нужно.",),
    },
    "ja": {
        "open": ("「{subject}」の件でご連絡しました。詳細を送っていただけますか。",),
        "answer": ("ご連絡ありがとうございます。詳細を添付いたします。",),
        "follow": ("ありがとうございます。確認いたしました。",),
    },
}

GREETINGS: dict[str, tuple[str, ...]] = {
    "en": ("Hi,", "Hello,", "Good morning,", "Hi there,", "Dear colleague,"),
    "de": ("Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,"),
    "tr": ("Merhaba,", "İyi günler,"),
    "fr": ("Bonjour,",),
    "ru": ("Здравствуйте,",),
    "ja": ("お世話になっております。",),
}
CLOSINGS: dict[str, tuple[str, ...]] = {
    "en": ("Best regards,", "Thanks,", "Kind regards,", "Cheers,", "Best,"),
    "de": ("Mit freundlichen Grüßen", "Viele Grüße"),
    "tr": ("İyi çalışmalar,", "Saygılarımla,"),
    "fr": ("Bien cordialement,",),
    "ru": ("С уважением,",),
    "ja": ("よろしくお願いいたします。",),
}
