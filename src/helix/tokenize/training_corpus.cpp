#include "helix/tokenize/training_corpus.h"

namespace helix {
namespace {

constexpr std::string_view kCorpus = R"corpus(The harbour town woke slowly that spring.
Fishing boats came in before dawn, and the
market opened at six, when the first carts rolled down the hill with bread, cheese and
baskets of early greens. Children ran along the sea wall; their parents talked about the
weather, the price of diesel and the new ferry that was supposed to start in June.

Mara kept the lighthouse on the northern point. She had done it for eleven years, and she
still wrote everything down: the time the lamp was lit, the wind, the height of the waves,
the ships that passed. Her notebooks filled a whole shelf. "If you do not write it down,"
she liked to say, "it did not happen, or at least nobody will believe you."

One evening a stranger climbed the path to her door. He was carrying a heavy bag and a
folded map, and he asked whether she could tell him how far it was to the next village.
"Twelve kilometres by the coast road," she said, "but the bridge is closed. You would have
to go around the lake, which is another nine." He thanked her, set down his bag, and asked
if he might wait until the rain stopped. She made tea, and they sat by the window while the
beam swept over the water, once every fifteen seconds, as it had for a hundred years.

He told her he was a surveyor. The county wanted new maps of the shoreline, because the
old ones were wrong in places: sand had moved, a cliff had fallen, two small islands had
joined into one. He measured angles with an instrument that looked like a brass telescope,
and he computed distances in a small book of tables. Mara showed him her notes on the tides,
and he copied several pages, saying they were better than anything the office had.

Numbers were everywhere in his work. A point might sit at 57.3912 degrees north and 4.0825
degrees west; a baseline might be 1,250 metres long, measured three times and averaged. He
checked each sum twice. On a good day he could fix forty points; on a bad one, in fog or
heavy rain, none at all. In 1998 the office bought its first satellite receiver, and by 2004
every team had two. Still, he said, a careful person with a good instrument and patience
could match the machine to within a few centimetres.

When the rain finally stopped it was nearly midnight. The stars came out over the bay, and
the stranger decided to stay until morning. Mara gave him the small room under the stairs.
In the morning she found a note on the table: thank you for the tea, the tides and the
company. Beside it lay a copy of his map, with her lighthouse drawn in red ink.

Weeks later a parcel arrived from the county office. Inside were the new charts, printed on
heavy paper, and a letter that thanked "the keeper of the northern light" for her careful
records. Mara pinned one chart above her desk. Then she opened a fresh notebook, wrote the
date at the top of the first page, and went on as before: wind from the south-west, force
four; visibility good; two trawlers and a yacht heading for the harbour.

Questions people often ask about lighthouses: Why are they painted in stripes? So that they
can be told apart in daylight. Why does each one flash differently? So that a sailor at night
knows which light he is looking at. How far can the light be seen? On a clear night, more
than twenty nautical miles, although the curve of the earth hides it sooner from a small boat.

A short recipe from the market: take 500 g of flour, 350 ml of warm water, 10 g of salt and
a spoon of yeast. Mix, rest for an hour, fold, rest again, shape, and bake at 230 degrees for
about 35 minutes. Let it cool before cutting; the crumb keeps cooking as it rests.

Some lines from the surveyor's small program, which he kept on a laptop:

    def average(values):
        if not values:
            raise ValueError("no measurements")
        return sum(values) / len(values)

    for station in stations:
        print(f"{station.name}: {average(station.readings):.3f} m")

    int main(int argc, char** argv) {
      std::vector<double> lengths = {1250.02, 1249.97, 1250.01};
      return lengths.empty() ? 1 : 0;
    }

It is easy to forget how much of ordinary life depends on things being measured, written
down and checked again: the depth of a channel, the weight of a loaf, the time a train
leaves, the dose of a medicine. Most of the time nobody notices. That is the point of doing
it well.
)corpus";

}  // namespace

std::string_view builtin_training_corpus() { return kCorpus; }

}  // namespace helix
