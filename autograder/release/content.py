"""The words of the notebooks: an introduction per assignment (the lecture's idea) and
conceptual multiple-choice questions.  The right choices live apart, in
`answer_key.py`, which never ships to students.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    """A multiple-choice question; the student sets `variable` to one letter of `choices`."""

    id: str
    prompt: str
    choices: dict[str, str]

    @property
    def variable(self) -> str:
        return f"answer_{self.id}"


TITLES = {
    "mlp": "Fully connected networks (MLPs)",
    "attention": "Transformers: self-attention",
    "rnn": "Recurrent networks",
    "gnn": "Graph neural networks",
    "transfer": "Transfer learning",
}

INTROS = {
    "mlp": """\
A multi-layer perceptron is the simplest network of the zoo: layers of units where every
unit of one layer feeds every unit of the next.  An input layer takes the features, one
or more hidden layers transform them, and an output layer gives class scores (logits) or
a regression value.

Its input is one vector of a **fixed size**.  An image or a sequence has to be flattened
into such a vector first, and a different input size needs a different network: the
shape of the first weight matrix is the input size.

An MLP has **no notion of space or time**.  Neighbouring pixels or consecutive time steps
are just more independent inputs to it; nothing in the architecture says which inputs
are close.  The architectures that follow add exactly that knowledge — yet each of them
still uses small MLPs as a **building block** inside.

Between the linear layers sits a nonlinearity (here ReLU): without it, any stack of
linear layers collapses into a single linear map, which cannot separate the two
interleaved spirals you will classify at the end.
""",
    "attention": """\
A Transformer layer takes N vectors of dimension d — the *tokens* — and returns N vectors
of dimension d: one output per input, whatever N is.  It keeps the topology of its input,
where an MLP maps one fixed-size vector to one fixed-size output.

The **same weights process every token**, so the number of parameters does not depend on
N.  In self-attention every position builds a query, compares it with the keys of all
positions and mixes their values accordingly: every token can modulate every other, and
all positions are computed in parallel.

Without positional information a self-attention layer sees its input as a **set**:
permuting the tokens just permutes the outputs.  A causal mask restricts each position
to the ones before it, which is what a decoder needs to generate text one token at a
time.  Encoder and decoder stacks are built from these layers, each with a small MLP per
token.
""",
    "rnn": """\
Recurrent networks are built for sequences.  A **hidden state** carries what the network
has seen so far; at every step it is updated from the current input and the previous
state, and an output can be read from it.

The **same weights are used at every time step**, so one network handles sequences of
any length — and the gradient of a shared weight is the sum of its gradients over the
steps.  Because each step needs the previous one, an RNN is sequential by nature and
harder to parallelise than a Transformer.

Where an MLP treats its inputs as independent and a CNN looks at spatial neighbours, an
RNN models **dependencies in time**.  Training through long sequences multiplies many
Jacobians together and the gradient reaching early steps vanishes; LSTM and GRU cells add
**gates** that decide what to keep and what to forget, and let gradients survive.
""",
    "gnn": """\
Many data are graphs: **nodes** (people, atoms, papers) joined by **edges** (friendships,
bonds, citations).  Social networks, molecules and knowledge graphs have no fixed size and
no natural order of their nodes — an MLP's fixed input vector does not fit them.

A graph neural network works by **message passing**: in each layer every node combines
its own features with messages aggregated from its neighbours.  The same weights serve
every node, so the layer works on graphs of any size, and relabelling the nodes just
relabels the outputs.  Stacking k layers lets information travel **k hops**.

The result is a **node embedding** that reflects both the node and its neighbourhood.
From it come the classic tasks: node classification, link prediction (scoring pairs of
nodes), and graph classification (pooling the nodes of each graph).
""",
    "transfer": """\
Labels are expensive.  **Transfer learning** reuses a model trained on a large source task
as the starting point for a related target task that has only a few labels: the features
the network learnt — edges, shapes, useful representations — are often what the new task
needs too.

There are two common recipes.  **Freeze** the early layers and fine-tune the rest, or
**replace the final layer** with a new head for the new classes and fine-tune the head
alone, or all of the model.  With few labels, training fewer parameters guards against
overfitting.

The lecture distinguishes kinds of transfer: *inductive* (a different target task, with
labels for it), *transductive* (the same task in a different domain) and *unsupervised*
(no labels on either side; representations are transferred).  Frozen layers must stay
frozen — including the running statistics of normalisation layers.
""",
}

QUESTIONS = {
    "mlp": [
        Question("q1", "An MLP was trained on 28×28 grey-scale images flattened to 784 inputs. "
                       "What happens when you give it a 32×32 image, flattened to 1024 numbers?",
                 {"a": "It works: an MLP adapts to the input size.",
                  "b": "It works after the network crops the extra pixels itself.",
                  "c": "It fails: the first layer's weights expect exactly 784 inputs, so a new size needs a different network.",
                  "d": "It works, but only in evaluation mode."}),
        Question("q2", "You shuffle the pixels of every image with one fixed permutation (the same for training "
                       "and test images) and train a fresh MLP on the shuffled images. Its test accuracy, "
                       "compared with an MLP trained on the original images, is …",
                 {"a": "… about the same: an MLP does not know which inputs are neighbours.",
                  "b": "… close to chance: the images no longer make sense.",
                  "c": "… much higher: shuffling acts as data augmentation.",
                  "d": "… undefined: an MLP cannot be trained on shuffled inputs."}),
        Question("q3", "Why does the MLP put a ReLU between its linear layers?",
                 {"a": "It makes training faster but does not change what the network can represent.",
                  "b": "It normalises the activations to unit variance.",
                  "c": "It keeps the weights positive.",
                  "d": "Without it the stack of layers is one linear map, which cannot separate the two spirals."}),
    ],
    "attention": [
        Question("q1", "A self-attention layer was built for sequences of 10 tokens. How many parameters does "
                       "it need for sequences of 1000 tokens?",
                 {"a": "100 times as many.",
                  "b": "The same number: the same weights process every token.",
                  "c": "10 times as many.",
                  "d": "It cannot process 1000 tokens."}),
        Question("q2", "Without positional encodings, you swap tokens 2 and 5 of the input of a "
                       "self-attention layer. The outputs …",
                 {"a": "… are unchanged.",
                  "b": "… change unpredictably.",
                  "c": "… swap the same way: outputs 2 and 5 trade places.",
                  "d": "… all become equal."}),
        Question("q3", "Why can a Transformer use parallel hardware better than an RNN during training?",
                 {"a": "It has fewer parameters.",
                  "b": "It uses no nonlinearities.",
                  "c": "Its attention weights are sparse.",
                  "d": "It computes all positions at once; an RNN needs step t-1 before step t."}),
    ],
    "rnn": [
        Question("q1", "Why can one RNN process sequences of any length?",
                 {"a": "The same cell, with the same weights, is applied at every time step.",
                  "b": "It pads every sequence to a fixed maximum length.",
                  "c": "It has one set of weights per time step, created on demand.",
                  "d": "It looks at all time steps at once."}),
        Question("q2", "When a tanh RNN is trained on long sequences, the gradient reaching the first steps "
                       "is often tiny. Why?",
                 {"a": "The learning rate is too small.",
                  "b": "It is a product of many Jacobians whose norms are mostly below 1.",
                  "c": "The hidden state is reset at every step.",
                  "d": "Cross-entropy has no gradient for early steps."}),
        Question("q3", "What do the gates of an LSTM or GRU do?",
                 {"a": "They make the cell linear.",
                  "b": "They normalise the inputs.",
                  "c": "They decide what to keep and what to forget, giving gradients a path that survives many steps.",
                  "d": "They run the time steps in parallel."}),
    ],
    "gnn": [
        Question("q1", "After three message-passing layers, a node's embedding can depend on …",
                 {"a": "… only its own features.",
                  "b": "… every node of the graph, however far.",
                  "c": "… its direct neighbours only.",
                  "d": "… the nodes at most three hops away."}),
        Question("q2", "To classify whole graphs, the node embeddings are pooled (e.g. averaged). "
                       "Why not concatenate them instead?",
                 {"a": "Graphs have different numbers of nodes and no natural node order; a mean is "
                       "defined for any size and ignores the order.",
                  "b": "Concatenation is slower on a GPU.",
                  "c": "Concatenation loses the edge information.",
                  "d": "A mean has more parameters to learn."}),
        Question("q3", "Which of these is a link-prediction task?",
                 {"a": "Predicting the toxicity of a molecule.",
                  "b": "Suggesting which two users of a social network are likely to become friends.",
                  "c": "Predicting the research field of a paper in a citation graph.",
                  "d": "Counting the triangles of a graph."}),
    ],
    "transfer": [
        Question("q1", "You have 50 labelled images for a new task and a network pre-trained on a million "
                       "images. Which recipe is the safest start?",
                 {"a": "Train the whole network from scratch on the 50 images.",
                  "b": "Freeze the backbone, replace the head, and train only the new head.",
                  "c": "Keep the old head and fine-tune only the first layer.",
                  "d": "Fine-tune every layer with a large learning rate."}),
        Question("q2", "A sentiment classifier trained on film reviews is adapted to product reviews "
                       "(the same task, a different domain). Which kind of transfer is this?",
                 {"a": "Inductive.",
                  "b": "Unsupervised.",
                  "c": "Transductive.",
                  "d": "None: it is the same task."}),
        Question("q3", "The backbone is frozen (requires_grad=False) but the model is trained in train() "
                       "mode. What still changes in the backbone?",
                 {"a": "Nothing.",
                  "b": "Its weights, through weight decay.",
                  "c": "The gradients of its parameters.",
                  "d": "The running mean and variance of its batch-norm layers."}),
    ],
}


def intro(assignment: str) -> str:
    return INTROS.get(assignment, f"The {assignment} assignment of the Neural Net Zoo.\n")


def questions(assignment: str) -> list[Question]:
    return QUESTIONS.get(assignment, [])
