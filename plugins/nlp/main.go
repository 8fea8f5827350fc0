// Command plexus-plugin-nlp serves plexus's text models as a model plugin: the LSTM
// language model (generate, score) and BERT (embed, classify). It is a thin main over
// nlp/lstm and nlp/bert.
package main

import "github.com/plexusml/plexus/plugins/sdk"

func main() { sdk.Serve(NLP{}) }
