{ a ? b }: a
