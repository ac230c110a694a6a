// Include last in a .cpp whose float arithmetic must match llama.cpp's reference C bit for bit: it stops
// the compiler from fusing a*b+c into one FMA rounding (GCC does so for C++ under -march=native even in
// ISO mode; clang by default). Everything in the including file after this line is affected.
#pragma once
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
