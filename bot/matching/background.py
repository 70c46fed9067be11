"""Background passages: statements about everyday and unrelated subjects, in the languages members ask in.

A question's similarity to its best claims means little alone: e5's cosine runs high for any pair, and higher
or lower by language. How much closer a question is to its best claim than to the closest of these statements
is comparable across questions and languages; the matcher calibrates on that margin.

``PUBLIC_AFFAIRS`` are statements about the subjects public figures are asked about besides any one incident
(elections, the economy, sport, diplomacy, courts, their own lives), none about war, attacks or security: the
incidents this bot's ledgers hold are mostly those, and a yardstick near them would silence their questions.
A question that names a speaker and asks about something ("when was Putin born?") is answered by that
speaker's claim only if the rest of it is closer to the claim than to these; a statement close to the claim
itself (a ledger about an election) is left out of that comparison, so a ledger about these subjects is not
silenced.
"""

from __future__ import annotations

BACKGROUND = (
    # English
    "The weather will be sunny with light winds tomorrow.",
    "The team won the match in extra time after a penalty.",
    "Add the flour slowly and stir until the dough is smooth.",
    "The new phone has a larger battery and a better camera.",
    "The museum opens at ten and closes at six on weekdays.",
    "Prices of groceries rose again last month.",
    "The band announced a tour with concerts in twelve cities.",
    "Scientists found water ice near the moon's south pole.",
    "The film won the award for best picture.",
    "The train was delayed by an hour because of a signal failure.",
    "The company reported higher profits in the third quarter.",
    "Schools will close for the summer holidays next week.",
    "The minister announced a new budget for road repairs.",
    "The election results will be published on Monday.",
    "A storm knocked out power to thousands of homes.",
    "The central bank kept interest rates unchanged.",
    "Volunteers cleaned the beach on Saturday morning.",
    "The actor said he is writing a book about his childhood.",
    "Officials said the bridge will reopen in the spring.",
    "The cat slept on the windowsill all afternoon.",
    "The president met farmers to discuss the harvest.",
    "A spokesperson said the company would not comment on rumours.",
    "The police said the investigation into the theft continues.",
    "The mayor promised more buses for the city centre.",
    # Russian
    "Завтра будет солнечно и тепло.",
    "Команда выиграла матч в дополнительное время.",
    "Добавьте муку и перемешайте тесто.",
    "Цены на продукты снова выросли.",
    "Музей открыт с десяти до шести.",
    "Министр объявил о новом бюджете на ремонт дорог.",
    "Поезд опоздал на час из-за неисправности.",
    "Учёные нашли воду на Луне.",
    "Мэр пообещал больше автобусов в центре города.",
    "Компания сообщила о росте прибыли.",
    "Президент встретился с фермерами.",
    "Полиция заявила, что расследование кражи продолжается.",
    # Ukrainian
    "Завтра буде сонячно і тепло.",
    "Команда виграла матч у додатковий час.",
    "Додайте борошно і перемішайте тісто.",
    "Ціни на продукти знову зросли.",
    "Музей відчинений з десятої до шостої.",
    "Міністр оголосив про новий бюджет на ремонт доріг.",
    "Потяг запізнився на годину через несправність.",
    "Вчені знайшли воду на Місяці.",
    "Мер пообіцяв більше автобусів у центрі міста.",
    "Компанія повідомила про зростання прибутку.",
    "Президент зустрівся з фермерами.",
    "Поліція заявила, що розслідування крадіжки триває.",
    # German
    "Morgen wird es sonnig und warm.",
    "Die Mannschaft gewann das Spiel in der Verlängerung.",
    "Mehl langsam hinzufügen und den Teig rühren.",
    "Die Lebensmittelpreise sind wieder gestiegen.",
    "Das Museum ist von zehn bis achtzehn Uhr geöffnet.",
    "Der Minister kündigte ein neues Budget für Straßenreparaturen an.",
    "Der Zug hatte wegen einer Signalstörung eine Stunde Verspätung.",
    "Forscher fanden Wassereis am Südpol des Mondes.",
    "Der Bürgermeister versprach mehr Busse für die Innenstadt.",
    "Das Unternehmen meldete höhere Gewinne.",
    "Der Präsident traf sich mit Landwirten.",
    "Die Polizei sagte, die Ermittlungen zum Diebstahl dauern an.",
)

PUBLIC_AFFAIRS = (
    "The party's candidate leads the latest opinion poll ahead of the vote.",
    "Parliament passed a law raising the pension age and changing income tax.",
    "Lawmakers agreed a deal on government spending and borrowing.",
    "She was born in a small town, studied law and married in 1990.",
    "He was appointed to lead the ministry after his predecessor resigned.",
    "The national football team named a new head coach before the tournament.",
    "Athletes are preparing for the Olympic Games next summer.",
    "The leader flew to Beijing for talks on trade and energy.",
    "The new metro line will open to passengers in the autumn.",
    "Gas exports through the pipeline fell after the contract expired.",
    "The court sentenced the journalist to eight years in a prison colony.",
    "The opposition politician died in a prison colony, his family said.",
    "Thousands protested in the capital against the new law.",
    "The hospital opened a new ward for children with cancer.",
    "The government extended cheap mortgages for young families.",
    "The ruling party elected a new chairman at its congress.",
    "The press secretary answered reporters' questions at the daily briefing.",
    "The minister promised higher salaries for teachers and nurses.",
    "The government cut taxes on small businesses and fuel.",
    "Grain exports through the Black Sea ports rose this year.",
    "The TV presenter spoke about her family and her new book in an interview.",
    "The president's approval rating fell after the reform.",
    "Universities will admit more students to medical courses.",
    "New rules make it harder for migrants to get work permits.",
    "The country pledged to halve its carbon emissions by 2035.",
)
