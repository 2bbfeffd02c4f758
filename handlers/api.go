package handlers

func (s *Server) registerAPIRoutes() {}
