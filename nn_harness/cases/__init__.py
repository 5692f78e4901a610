"""Cases: the registry of layer specs, hypothesis strategies and profiles, a course profile's narrowing, and building
a case (the layer in the sandbox, its torch twin). May import training and sandbox only.
"""
