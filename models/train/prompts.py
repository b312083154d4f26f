"""Training prompts for self-distillation, disjoint from every benchmark.

Two sources: GSM8K training questions (MIT, `../shared/data/gsm8k/train.jsonl`)
and self-instruct style prompts written for canopy (Apache-2.0, like the rest
of the repository): task templates crossed with topic lists, in the shapes a
chat model meets (explain, write, role-play, code, answer, extract, translate).
Stage two (`followups`) builds long-context prompts from the target's own
stage-one answers: summarize a text, answer a question about it, revise it in
a second turn. Spec-Bench prompts are never read here.
"""

from __future__ import annotations

import json
import random

TOPICS = [
    "photosynthesis", "the water cycle", "black holes", "the French Revolution", "compound interest",
    "machine learning", "volcanoes", "the immune system", "climate change", "the printing press",
    "plate tectonics", "the Roman Empire", "electric cars", "honey bees", "the stock market",
    "renewable energy", "the human heart", "ancient Egypt", "coral reefs", "the internet",
    "vaccines", "the Moon landing", "recycling", "the solar system", "sleep", "coffee",
    "the Industrial Revolution", "earthquakes", "democracy", "inflation", "DNA", "rainforests",
    "the Olympic Games", "jazz music", "chess", "bread baking", "gravity", "the Great Wall of China",
    "social media", "public libraries", "meditation", "the theory of evolution", "tides", "glaciers",
    "supply and demand", "the Renaissance", "nuclear power", "antibiotics", "migratory birds",
    "the periodic table", "cloud computing", "urban gardening", "the Silk Road", "hurricanes",
    "the printing of money", "volunteering", "time management", "public speaking", "electricity",
    "magnets", "the ocean floor", "desert animals", "the history of writing", "smartphones",
]

THINGS = [
    "a lighthouse keeper", "a lost robot", "a small bakery", "a dragon who cannot fly", "a rainy city",
    "a time traveller", "a school science fair", "an old map", "a talking cat", "a mountain village",
    "a space station", "a friendly ghost", "a forgotten library", "a chess champion", "a garden at night",
    "a young inventor", "a storm at sea", "a museum after closing time", "a marathon runner", "a snowy forest",
]

ROLES = [
    ("a travel guide in Rome", "What should I see on my first day?"),
    ("a personal fitness coach", "How should I start running?"),
    ("a chef", "How do I make a simple tomato soup?"),
    ("a history teacher", "Why did the Roman Empire fall?"),
    ("a career counselor", "How do I prepare for a job interview?"),
    ("a doctor", "How can I sleep better?"),
    ("an astronaut", "What is a normal day in space like?"),
    ("a librarian", "Which classic novels should I read first?"),
    ("a gardener", "How do I keep my tomato plants healthy?"),
    ("a detective", "How do you solve a difficult case?"),
    ("a financial advisor", "How should I start saving money?"),
    ("a music teacher", "How can I learn the guitar quickly?"),
]

CODE_TASKS = [
    "reverses a string", "checks whether a number is prime", "computes the factorial of n",
    "counts the vowels in a sentence", "finds the largest number in a list", "merges two sorted lists",
    "removes duplicates from a list", "checks whether a word is a palindrome", "computes Fibonacci numbers",
    "converts Celsius to Fahrenheit", "sorts a list of dictionaries by a key", "counts word frequencies in a text",
    "computes the average of a list", "flattens a nested list", "finds the second smallest number in a list",
    "validates an email address with a regular expression", "reads a CSV file and sums a column",
    "returns the n-th row of Pascal's triangle", "implements binary search", "rotates a matrix by 90 degrees",
]

LANGS = ["Python", "JavaScript", "C", "Java", "Go"]

TEMPLATES = [
    "Explain {topic} in simple terms.",
    "What is {topic}? Give a short answer.",
    "Give me three interesting facts about {topic}.",
    "Why is {topic} important?",
    "Write a short paragraph about {topic} for a ten-year-old.",
    "What are the main advantages and disadvantages of {topic}?",
    "Describe the history of {topic} in a few sentences.",
    "List five key words related to {topic} and explain each one briefly.",
    "Write a short blog post introduction about {topic}.",
    "What are common misconceptions about {topic}?",
    "Compare {topic} and {other}.",
    "How would you teach {topic} to a beginner?",
]

STORY_TEMPLATES = [
    "Write a short story about {thing}.",
    "Write a poem about {thing}.",
    "Write a haiku about {thing}.",
    "Describe {thing} in vivid detail.",
    "Write the opening paragraph of a novel about {thing}.",
]

EMAILS = [
    "Write an email to my manager asking for a day off next Friday.",
    "Write a thank-you note to a friend who helped me move house.",
    "Write a polite complaint to a hotel about a noisy room.",
    "Write an invitation to a neighbourhood picnic.",
    "Write a short cover letter for a job as a library assistant.",
    "Write a message to my team announcing a new project.",
    "Write a product description for a reusable water bottle.",
    "Write a short speech for a friend's wedding.",
    "Write a persuasive paragraph on why people should read more books.",
    "Write a short review of a restaurant you enjoyed.",
]

GERMAN = [
    "Der Zug nach Berlin hat heute zwanzig Minuten Verspätung.",
    "Meine Schwester arbeitet als Ärztin in einem großen Krankenhaus.",
    "Im Sommer fahren wir oft an den See, um zu schwimmen.",
    "Die Regierung plant neue Gesetze zum Schutz der Umwelt.",
    "Kannst du mir bitte sagen, wo der nächste Bahnhof ist?",
    "Das Museum ist montags geschlossen, aber am Wochenende geöffnet.",
    "Wir haben gestern Abend einen sehr spannenden Film gesehen.",
    "Die Preise für Lebensmittel sind im letzten Jahr stark gestiegen.",
    "Nach dem Regen schien endlich wieder die Sonne.",
    "Der neue Bürgermeister möchte mehr Radwege in der Stadt bauen.",
    "Viele Studenten lernen in der Bibliothek bis spät in die Nacht.",
    "Das Unternehmen hat im dritten Quartal einen Gewinn gemacht.",
    "Ich trinke morgens gern eine Tasse Tee mit Honig.",
    "Die Kinder spielen im Garten Fußball.",
    "Der Arzt empfiehlt, jeden Tag spazieren zu gehen.",
    "Die Konferenz findet nächste Woche in Wien statt.",
    "Unser Nachbar hat einen kleinen Hund, der sehr laut bellt.",
    "Die Polizei sucht nach Zeugen des Unfalls.",
    "Im Winter ist es in den Bergen sehr kalt.",
    "Sie hat ihr Studium mit Auszeichnung abgeschlossen.",
]

QUESTIONS = [
    "Who wrote {work}?", "When was {event}?", "What is the capital of {country}?",
    "What language is spoken in {country}?", "What is the largest city in {country}?",
]
WORKS = ["Romeo and Juliet", "Pride and Prejudice", "The Odyssey", "Don Quixote", "War and Peace", "Hamlet"]
EVENTS = ["the first Moon landing", "the fall of the Berlin Wall", "the invention of the telephone",
          "the signing of the Magna Carta", "the first modern Olympic Games"]
COUNTRIES = ["France", "Japan", "Brazil", "Canada", "Egypt", "India", "Kenya", "Norway", "Mexico", "Australia",
             "Spain", "Turkey", "Vietnam", "Peru", "Poland", "Ireland"]


def generic_prompts(rng: random.Random) -> list[str]:
    """Every self-instruct prompt (a few thousand); callers sample from them."""
    out = [t.format(topic=a, other=rng.choice(TOPICS)) for t in TEMPLATES for a in TOPICS]
    out += [t.format(thing=x) for t in STORY_TEMPLATES for x in THINGS]
    out += EMAILS
    out += [f"Pretend you are {role}. {q}" for role, q in ROLES]
    out += [f"Write a {lang} function that {task}." for lang in LANGS for task in CODE_TASKS]
    out += [f"Translate German to English: {s}" for s in GERMAN]
    out += [q.format(work=w) for q in QUESTIONS[:1] for w in WORKS]
    out += [q.format(event=e) for q in QUESTIONS[1:2] for e in EVENTS]
    out += [q.format(country=c) for q in QUESTIONS[2:] for c in COUNTRIES]
    return out


def gsm8k_prompts(path: str) -> list[str]:
    with open(path) as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def first_stage(gsm8k_path: str, n_math: int, n_generic: int, seed: int = 0) -> list[list[dict]]:
    """Stage-one chats: one user turn each, math and generic prompts shuffled together."""
    rng = random.Random(seed)
    math = rng.sample(gsm8k_prompts(gsm8k_path), n_math)
    generic = generic_prompts(rng)
    generic = rng.sample(generic, min(n_generic, len(generic)))
    chats = [[{"role": "user", "content": p}] for p in math + generic]
    rng.shuffle(chats)
    return chats


ARTICLE_PREFIXES = ("Write a short", "Describe", "Explain", "Write a paragraph", "Describe the history")

FOLLOWUPS = [
    "Rewrite your previous answer in a more formal tone.",
    "Summarize your answer in two sentences.",
    "Now explain the same thing to a child.",
    "Can you give one more example?",
    "Turn your answer into a bulleted list.",
]


def followups(first: list[tuple[list[dict], str]], n: int, seed: int = 1) -> list[list[dict]]:
    """Stage-two chats from stage-one (chat, answer) pairs: long-input tasks and second turns."""
    rng = random.Random(seed)
    long_answers = [(c, a) for c, a in first if len(a) > 400]
    out: list[list[dict]] = []
    for chat, answer in rng.sample(long_answers, min(n, len(long_answers))):
        kind = rng.randrange(4)
        text = answer.strip()
        if kind == 0:
            out.append([{"role": "user", "content": f"Summarize: {text}"}])
        elif kind == 1:
            out.append([{"role": "user", "content": f"{text}\n\nBased on the text above, what is its main point?"}])
        elif kind == 2:
            out.append([{"role": "user", "content": f"Extract the key facts from this text as a list:\n{text}"}])
        else:
            out.append([*chat, {"role": "assistant", "content": text}, {"role": "user", "content": rng.choice(FOLLOWUPS)}])
    return out


def main() -> None:
    """Writes stage-one prompts as Spec-Bench-shaped JSONL (`canopy bench --prime FILE`)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--gsm8k", default="../shared/data/gsm8k/train.jsonl")
    parser.add_argument("--math", type=int, default=32, help="GSM8K training questions")
    parser.add_argument("--generic", type=int, default=96, help="self-instruct prompts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    chats = first_stage(args.gsm8k, args.math, args.generic, args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for i, chat in enumerate(chats):
            row = {"question_id": f"prime-{i}", "category": "prime", "turns": [chat[-1]["content"]]}
            f.write(json.dumps(row) + "\n")
    print(f"{len(chats)} prompts -> {args.out}")


if __name__ == "__main__":
    main()
